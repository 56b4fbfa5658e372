#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Version skew: today's hasyncd paired with the previous release's (built
# from the project's history by scripts/prev-release) over the real module
# and TIPC, both ways round, under a stream of changes:
#  - a previous-release primary keeps today's standby hot, and the other
#    way round;
#  - failover in either direction (SIGKILL), every confirmed change kept;
#  - planned switchover in either direction, nothing replayed;
#  - each release's CLI reads the other release's daemon.
# After every change of primary the invariants of cluster_check.py hold.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

PREV_BIN=${HASYNC_PREV_DIR:+$HASYNC_PREV_DIR/bin}
CUR_HASYNCD=$HASYNCD

cl_begin 9
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

ktap_finished
