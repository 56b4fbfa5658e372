#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Version skew: today's hasyncd paired with the previous release's (built
# from the project's history by scripts/prev-release) over the real module
# and TIPC, both ways round, under a stream of changes:
#  - a previous-release primary keeps today's standby hot, and the other
#    way round;
#  - failover in either direction (SIGKILL), every confirmed change kept;
#  - planned switchover in either direction, nothing replayed;
#  - each release's CLI reads the other release's daemon;
#  - the release handshake: today's standby falls back to the first
#    release's handshake, and both sides name each other's release and
#    diff lists (`hasync status`);
#  - items only today's release has, handled per their policy: a rename
#    reaches a previous-release standby as a delete and a set, a section
#    too large for one message leaves it cold on that channel only, and a
#    previous-release primary refuses a rename with nothing changed;
#  - record fields only today's release has: a link speed reaches a
#    previous-release standby left out (counted, warned once); a
#    description over 64 bytes leaves it cold on that channel;
#  - on the previous release's module, today's hasyncd refuses to start,
#    naming what the module lacks, before it changes anything there.
# After every change of primary the invariants of cluster_check.py hold.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

PREV_BIN=${HASYNC_PREV_DIR:+$HASYNC_PREV_DIR/bin}
CUR_HASYNCD=$HASYNCD

cl_begin 16
if [ -z "$PREV_BIN" ] || [ ! -x "$PREV_BIN/hasyncd" ]; then
	echo "# no previous release (HASYNC_PREV_DIR='${HASYNC_PREV_DIR:-}': run scripts/prev-release)" >&2
	exit 1
fi
ktap_diag "previous release: $(cat "$HASYNC_PREV_DIR/commit" 2>/dev/null)"

# run N REL ROLE: (re)start node N with release REL (prev or cur).  The
# previous release's configuration has no `units` key.
run() {
	cl_kill "$1"
	cl_conf "$1" both || return 1
	if [ "$2" = prev ]; then
		sed -i '/^units =/d' "$CL/n$1.toml"
		HASYNCD=$PREV_BIN/hasyncd
	else
		HASYNCD=$CUR_HASYNCD
	fi
	cl_start "$1" "$3"
	HASYNCD=$CUR_HASYNCD
}

# cli N REL ARGS: node N's daemon through release REL's CLI.
cli() {
	_n=$1
	_bin=$HASYNC_BIN
	[ "$2" = prev ] && _bin=$PREV_BIN/hasync
	shift 2
	in_ns "$_n" "$_bin" "$@"
}

# failover PRIMARY STANDBY: the primary dies under a stream; the standby
# takes over and keeps every confirmed change.
failover() {
	cl_load_start "$1"
	cl_load_flowing || return 1
	sleep "0.$(cl_rand 9)"
	cl_kill "$1"
	cl_wait_primary "$2" 60 || return 1
	cl_load_stop
	cl_check "$2"
}

# switchover PRIMARY REL STANDBY: asked through the primary's own CLI
# under a stream; the standby takes over without replay, the old primary
# follows it and is hot again.
switchover() {
	cl_load_start "$1"
	cl_load_flowing || return 1
	cli "$1" "$2" switchover || return 1
	cl_wait "$3" "s['role']=='primary' and s['last_takeover']['reason']=='switchover'" 30 || return 1
	cl_load_stop
	cl_check "$3" || return 1
	n=$(cl_field "$3" "sum(1 for c in s['last_takeover']['channels'] if c['replayed_ops'] or c['replayed_sections'])")
	[ "$n" = 0 ] || { echo "# switchover replayed $n channels"; return 1; }
	cl_wait_hot "$1" 60
}

prev_primary_cur_standby() {
	run 1 prev primary
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	run 2 cur standby
	cl_wait_hot 2 60
}
ktap_check_out "previous-release primary keeps today's standby hot" prev_primary_cur_standby

# Both CLIs against both daemons: the reply formats did not move.
clis() {
	for n in 1 2; do
		for rel in prev cur; do
			role=$(cli "$n" "$rel" -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["role"])') ||
				{ echo "# node $n, $rel CLI: status failed"; return 1; }
			echo "# node $n through the $rel CLI: $role"
		done
	done
	cli 1 prev iface set dev skew0 mtu 1400 channel 1 || return 1
	cli 1 cur iface set dev skew1 mtu 1500 channel 2 || return 1
	[ "$(cli 2 prev -j iface show dev skew0 | grep -c '"mtu":1400')" = 1 ] || return 1
	cl_wait 2 "s['sync']=='hot' and s['pending']==0" 10
}
ktap_check_out "each release's CLI reads and drives the other's daemon" clis

ktap_check_out "failover from a previous-release primary to today's" failover 1 2

prev_standby() {
	run 1 prev standby
	cl_wait_hot 1 60
}
ktap_check_out "today's primary keeps a previous-release standby hot" prev_standby

ktap_check_out "failover from today's primary to a previous-release one" failover 2 1

cur_standby() {
	run 2 cur standby
	cl_wait_hot 2 60
}
ktap_check_out "today's standby follows the previous-release primary again" cur_standby

ktap_check_out "switchover from a previous-release primary to today's" switchover 1 prev 2
ktap_check_out "switchover from today's primary to a previous-release one" switchover 2 cur 1

# rel EXPR: a Python expression over today's status `s` of node 2, whose
# peer is of the previous release.
rel() { cl_field 2 "$1"; }

handshake() {
	grep -q 'greets it as release 1' "$CL/n2.log" ||
		{ echo "# today's standby never fell back to the first release's handshake"; return 1; }
	grep -q 'protocol version 2' "$CL/n1.log" ||
		{ echo "# the previous release never saw this release's handshake"; return 1; }
	[ "$(rel "s['releases']['release']")" = 2 ] || return 1
	[ "$(rel "s['releases']['peers'][0]['release']")" = 1 ] || return 1
	# Every update of the stream it followed applied, checked, once upgraded.
	[ "$(rel "s['releases']['failed_applies']")" = 0 ] || return 1
	lacks=$(rel "' '.join(l['item'] + '=' + l['handling'] for l in s['releases']['peers'][0]['lacks'])")
	echo "# cu-1 lacks: $lacks"
	# Following an older primary, nothing of ours is ever needed.
	case "$lacks" in *"msg.checkpoint-part=never sent by the older primary"*"op.rename=never sent by the older primary"*) ;; *) return 1 ;; esac
	cli 2 cur status | grep "^peer cu-1 release 1 lacks"
}
ktap_check_out "today's standby greets the previous-release primary in its handshake and names its release" handshake

refused_rename() {
	before=$(hasync -j iface show)
	out=$(cli 1 cur iface rename dev skew0 to skew9 2>&1) && { echo "# accepted: $out"; return 1; }
	echo "# $out"
	case "$out" in *"first release has"*"no rename: nothing changed"*) ;; *) return 1 ;; esac
	[ "$(hasync -j iface show)" = "$before" ]
}
ktap_check_out "a previous-release primary refuses a rename; nothing changes" refused_rename

rename_down() {
	cli 1 prev switchover || return 1
	cl_wait 2 "s['role']=='primary'" 30 && cl_wait_hot 1 60 || return 1
	cli 2 cur iface set dev ren0 mtu 1280 channel 1 || return 1
	cli 2 cur iface rename dev ren0 to ren1 || return 1
	hasync -j iface show dev ren1 | grep -q '"mtu":1280' || return 1
	! hasync -j iface show | grep -q '"ren0"' || return 1
	cl_wait 1 "s['sync']=='hot' and s['pending']==0" 10 || return 1
	# The previous-release standby holds what the primary holds.
	d1=$(cl_field 1 "[c['digests'] for c in s['channels']]")
	d2=$(cl_field 2 "[c['digests'] for c in s['channels']]")
	[ -n "$d1" ] && [ "$d1" = "$d2" ] || { echo "# digests differ: $d1 / $d2"; return 1; }
	lacks=$(rel "' '.join(l['item'] + '=' + l['handling'] for l in s['releases']['peers'][0]['lacks'])")
	echo "# standby cu-1 lacks: $lacks"
	case "$lacks" in *"msg.checkpoint-part=standby channel left cold"*"op.rename=transformed"*) ;; *) return 1 ;; esac
	n=$(rel "s['releases']['transformed']")
	echo "# frames transformed for cu-1: $n"
	[ "$n" -ge 1 ]
}
ktap_check_out "a rename on today's primary reaches a previous-release standby as a delete and a set" rename_down

# Channel 5 has one section: 800 records of 16 addresses do not fit one
# message, so its bulk sync needs checkpoint parts.
cold_channel() {
	in_ns 2 "$HASYNC_LOAD" --channels 5 --sweep --keys 800 --addrs 16 --count 800 \
		--prefix big --quiet || return 1
	run 1 prev standby
	cl_wait 1 "all(c['mode']=='hot' for c in s['channels'] if c['id']!=5) and s['pending']==0" 60 || return 1
	cl_wait 2 "s['releases']['peers'] and s['releases']['peers'][0]['cold']==[5]" 20 || return 1
	mode=$(cl_field 1 "[c['mode'] for c in s['channels'] if c['id']==5][0]")
	echo "# channel 5 on the previous-release standby: $mode"
	[ "$mode" != hot ] || return 1
	grep -q 'left cold on this channel' "$CL/n2.log" || return 1
	# Changes there are confirmed without it; elsewhere it keeps up.
	cli 2 cur iface set dev big0 mtu 1400 channel 5 || return 1
	cli 2 cur iface set dev cold1 mtu 1400 channel 1 || return 1
	cl_wait 1 "[c['records'] for c in s['channels'] if c['id']==1][0] == $(cl_field 2 "[c['records'] for c in s['channels'] if c['id']==1][0]")" 10
}
ktap_check_out "a previous-release standby is left cold only on a channel that needs checkpoint parts" cold_channel

speed_left_out() {
	cli 2 cur iface set dev spd0 up speed 10000 channel 1 || return 1
	cli 2 cur iface set dev spd1 speed 25000 channel 1 || return 1
	cli 2 cur iface show dev spd0 | grep '^spd0: <UP> mtu 1500 speed 10000 ' || return 1
	cl_wait 1 "[c['mode'] for c in s['channels'] if c['id']==1][0]=='hot' and s['pending']==0" 10 ||
		return 1
	n=$(rel "s['releases']['dropped']")
	echo "# speeds left out of what cu-1 was sent: $n"
	[ "$n" -ge 2 ] || return 1
	w=$(grep -c 'left out of what a peer of an older release is sent' "$CL/n2.log")
	[ "$w" = 1 ] || { echo "# $w warnings, want one"; return 1; }
	cli 2 cur status | grep "^release 2 transformed [0-9]* dropped $n not-synced 0" || return 1
	# The standby holds the records without their speeds.
	d1=$(cl_field 1 "[c['records'] for c in s['channels'] if c['id']==1][0]")
	d2=$(cl_field 2 "[c['records'] for c in s['channels'] if c['id']==1][0]")
	[ "$d1" = "$d2" ]
}
ktap_check_out "a link speed reaches a previous-release standby left out, counted, warned about once" speed_left_out

long_desc() {
	cli 2 cur iface set dev lng0 desc "$(printf 'd%.0s' $(seq 100))" channel 2 || return 1
	cl_wait 2 "s['releases']['peers'][0]['cold']==[2, 5]" 10 || return 1
	cold='left cold on this channel.* channel=2 item="?field\.description-255'
	grep -E "$cold" "$CL/n2.log" | sed 's/^.*WARN *//; s/^/# /' | head -n 1
	grep -Eq "$cold" "$CL/n2.log" || return 1
	# The other channels keep up.
	cli 2 cur iface set dev lng1 mtu 1400 channel 1 || return 1
	cl_wait 1 "[c['records'] for c in s['channels'] if c['id']==1][0] == $(cl_field 2 "[c['records'] for c in s['channels'] if c['id']==1][0]")" 10
}
ktap_check_out "a description over 64 bytes leaves a previous-release standby cold on its channel only" long_desc

old_module() {
	cl_kill 1
	cl_kill 2
	module_unload || return 1
	insmod "$HASYNC_PREV_DIR/kmod/hasync.ko" || return 1
	hasync info | head -n 1
	run 1 cur primary
	cl_wait_dead 1 20 || { echo "# today's hasyncd kept running on the old module"; return 1; }
	grep -m1 'predates this hasyncd' "$CL/n1.log" | sed 's/^.*ERROR *//; s/^/# /'
	grep -q "predates this hasyncd.*lacks claims at any size" "$CL/n1.log" || return 1
	[ "$(hasync -j channel show)" = "[]" ] || { echo "# channels were created"; return 1; }
	module_unload && module_load
}
ktap_check_out "on the previous release's module, today's hasyncd refuses to start and changes nothing" old_module

ktap_finished
