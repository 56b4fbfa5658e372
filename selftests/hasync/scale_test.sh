#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Tables larger than one message: a primary fills one section with 4 096
# records of 16 addresses each (about half a megabyte, eight times what one
# TIPC message holds), the requests sent in arrays of 16 and answered in
# arrays (group commit on the primary); a standby that joins afterwards becomes hot with the
# primary's digests (the bulk sync sends the section in key-range pages),
# and takes over with every confirmed change and nothing replayed. Then the
# record limit: a daemon refuses to start above the module's max_entries,
# and at limits.max_records a request is refused as "table full" with
# nothing changed.
. "$(dirname "$0")/lib.sh"
# Channel 1: one dense section; channel 2: a spread one, left empty.
CL_CHANNELS=${CL_CHANNELS:-"1:1 2:16"}
. "$(dirname "$0")/cluster.sh"

RECORDS=${HASYNC_DENSE_RECORDS:-4096}

cl_begin 7

# entries CHANNEL: records the kernel holds in CHANNEL.
entries() {
	hasync -j channel show id "$1" |
		python3 -c "import json,sys; c=json.load(sys.stdin); c=c[0] if isinstance(c,list) else c; print(c['entries'])"
}

fill() {
	cl_primary_up 30 || return 1
	t0=$(date +%s)
	in_ns 1 "$HASYNC_LOAD" --channels 1 --prefix d --keys "$RECORDS" --count "$RECORDS" \
		--addrs 16 --window 256 --batch 16 --first-seq 1 --log "$CL/load.log" --quiet || return 1
	n=$(entries 1) || return 1
	echo "# $n records in channel 1 (section 0) in $(($(date +%s) - t0)) s"
	[ "$n" -eq "$RECORDS" ]
}
ktap_check_out "a primary fills one section with $RECORDS records of 16 addresses" fill

join() {
	t0=$(date +%s)
	cl_start 2 standby
	cl_wait_hot 2 180 || return 1
	echo "# hot $(($(date +%s) - t0)) s after start"
	d=$(cl_field 1 "sorted((c['id'], c['digests']) for c in s['channels'])") || return 1
	cl_wait 2 "sorted((c['id'], c['digests']) for c in s['channels'])==$d" 20
}
ktap_check_out "a standby joining later syncs the dense section and is hot" join

takeover() {
	cl_kill 1
	cl_wait_primary 2 60 || return 1
	cl_field 2 "'# takeover: ' + str(s['last_takeover'])"
	cl_check 2
}
ktap_check_out "the standby takes over: every confirmed change, nothing replayed" takeover

# The daemon reads the module's max_entries (65536 by default) at start.
above_module() {
	cl_kill 2
	out=$(in_ns 1 "$HASYNCD" -c "$CL/n1.toml" --role primary --max-records 70000 2>&1 </dev/null)
	rc=$?
	echo "# exit $rc: $out" | tail -n 1
	[ $rc -ne 0 ] && echo "$out" | grep -q 'limits.max_records 70000 is above the module.s max_entries'
}
ktap_check_out "a record limit above the module's is refused at start" above_module

at_limit() {
	sed "s/^\[limits\]$/[limits]\nmax_records = $RECORDS/" "$CL/n1.toml" >"$CL/n1l.toml"
	mv "$CL/n1l.toml" "$CL/n1.toml"
	cl_start 1 primary
	cl_wait 1 "s['role']=='primary' and s['pending']==0" 60 || return 1
	before=$(cl_field 1 "[c['digests'] for c in s['channels'] if c['id']==1]") || return 1
	out=$(in_ns 1 "$HASYNC_BIN" iface set dev dx channel 1 mtu 1400 2>&1) && {
		echo "# accepted: $out"
		return 1
	}
	echo "# refused: $out"
	echo "$out" | grep -q 'invalid argument: table full' || return 1
	# An existing record still changes; the refused one changed nothing.
	in_ns 1 "$HASYNC_BIN" iface set dev d1_7 channel 1 mtu 1400 || return 1
	[ "$(entries 1)" -eq "$RECORDS" ] || return 1
	after=$(cl_field 1 "[c['digests'] for c in s['channels'] if c['id']==1]") || return 1
	[ "$before" != "$after" ]
}
ktap_check_out "at limits.max_records a new record is refused as table full" at_limit

channels_page() {
	n=$(hasync -j iface show channel 1 | python3 -c "import json,sys; print(len(json.load(sys.stdin)))") || return 1
	echo "# iface show channel 1: $n records"
	[ "$n" -eq "$RECORDS" ]
}
ktap_check_out "iface show lists the dense section" channels_page

ktap_finished
