#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A real box's size: 1 000 channels of 16 sections, 100 records each
# (100 000 records). A primary fills them; a standby joining afterwards
# becomes hot on every channel (bulk sync, paced by its acknowledgements);
# the status, channel and interface listings stay usable at this size; a
# standby killed in the middle of its bulk sync comes back hot; and it
# takes over under a stream with every confirmed change in place.
# HASYNC_WIDE_CHANNELS and HASYNC_WIDE_RECORDS change the size.
. "$(dirname "$0")/lib.sh"
CHANNELS=${HASYNC_WIDE_CHANNELS:-1000}
RECORDS=${HASYNC_WIDE_RECORDS:-100}
CL_CHANNELS=$(seq -f '%g:16' 1 "$CHANNELS" | tr '\n' ' ')
. "$(dirname "$0")/cluster.sh"

TOTAL=$((CHANNELS * RECORDS))

cl_begin 6 max_channels=$((CHANNELS + 24))

# kernel_records: records the kernel holds over every channel.
kernel_records() {
	hasync -j channel show brief |
		python3 -c "import json,sys; print(sum(c['entries'] for c in json.load(sys.stdin)))"
}

# digests N: node N's per-section digests, channel by channel.
digests() { cl_field "$1" "sorted((c['id'], c['digests']) for c in s['channels'])"; }

fill() {
	cl_primary_up 120 || return 1
	t0=$(date +%s)
	in_ns 1 "$HASYNC_LOAD" --channels "$(cl_ids)" --sweep --keys "$RECORDS" --count "$TOTAL" \
		--window 256 --batch 16 --first-seq 1 --prefix w --log "$CL/load.log" --quiet || return 1
	n=$(kernel_records) || return 1
	echo "# $n records in $(($(date +%s) - t0)) s"
	[ "$n" -eq "$TOTAL" ]
}
ktap_check_out "a primary fills $CHANNELS channels x $RECORDS records" fill

join() {
	t0=$(date +%s)
	cl_start 2 standby
	cl_wait_hot 2 600 || return 1
	echo "# hot on every channel $(($(date +%s) - t0)) s after start"
	d=$(digests 1) || return 1
	[ "$d" = "$(digests 2)" ] || { echo "# the standby's digests differ"; return 1; }
	n=$(grep -c 'dropping standby connection' "$CL/n1.log")
	echo "# connections dropped by the primary: $n"
	[ "$n" -eq 0 ]
}
ktap_check_out "a standby joining full tables becomes hot with the primary's digests" join

# timed WHAT CMD...: run CMD, print its size and time, fail on its failure.
timed() {
	_what=$1
	shift
	_t0=$(date +%s%N)
	"$@" >"$CL/out" 2>&1 || { echo "# $_what failed: $(tail -n 2 "$CL/out")"; return 1; }
	echo "# $_what: $(wc -c <"$CL/out") bytes in $((($(date +%s%N) - _t0) / 1000000)) ms"
}

listings() {
	timed "status" in_ns 1 "$HASYNC_BIN" status || return 1
	timed "status -j" in_ns 1 "$HASYNC_BIN" -j status || return 1
	python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert len(s['channels'])==$CHANNELS, len(s['channels'])" "$CL/out" || return 1
	timed "channel show -j" hasync -j channel show || return 1
	timed "iface show -j" hasync -j iface show || return 1
	n=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$CL/out") || return 1
	echo "# iface show: $n records"
	[ "$n" -eq "$TOTAL" ]
}
ktap_check_out "status, channel show and iface show list everything at this size" listings

kill_mid_sync() {
	cl_kill 2
	# It dies once half the chunks of its bulk sync arrived (at least one
	# per section of every channel).
	cl_start 2 standby mid-sync-receive@$((CHANNELS * 8))
	cl_wait_dead 2 300 || { echo "# the standby did not die mid-sync"; return 1; }
	grep -q 'fault injection: SIGKILL' "$CL/n2.log" || { echo "# it died, but not mid-sync"; return 1; }
	echo "# killed mid-sync"
	t0=$(date +%s)
	cl_start 2 standby
	cl_wait_hot 2 600 || return 1
	echo "# hot again $(($(date +%s) - t0)) s after restart"
	[ "$(digests 1)" = "$(digests 2)" ]
}
ktap_check_out "a standby killed during its bulk sync comes back hot" kill_mid_sync

takeover() {
	cl_load_start 1
	cl_load_flowing || return 1
	sleep 2
	cl_kill 1
	cl_wait_primary 2 120 || return 1
	cl_load_stop
	cl_field 2 "'# takeover: %s ms, %s of %s channels in sync, %s entries replayed' % (s['last_takeover']['total_ms'], s['last_takeover']['channels_in_sync'], s['last_takeover']['channels_total'], s['last_takeover']['entries_replayed'])"
	cl_check 2
}
ktap_check_out "the standby takes over under a stream: every confirmed change in place" takeover

ktap_finished
