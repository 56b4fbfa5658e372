#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The trust model (docs/operations.md): reaching the TIPC cluster is not
# enough. A third node joins the cluster as a stranger: its hasyncd, named
# as no listed unit, cannot follow the primary (refused at the handshake,
# counted, warned once), and a change it sends to the primary's control
# service is refused as unauthorized with nothing changed. A listed
# unit's node is served as before, and the daemon's counters say what
# was refused.
. "$(dirname "$0")/lib.sh"
CL_CHANNELS="1:8 2:4"
CL_NODES=3
. "$(dirname "$0")/cluster.sh"

cl_begin 9

pair() {
	cl_primary_up || return 1
	follow 1 ev1
	cl_start 2 standby
	cl_wait_hot 2 60
}
ktap_check_out "a primary (cu-1) and a hot standby (cu-2) of the listed units" pair

# The stranger: the cluster's config under a name no unit lists (and a
# unit must list itself).
stranger_conf() {
	cl_conf 3 both &&
		sed -i 's/^node = "cu-3"/node = "stranger"/; s/^units = .*/units = ["stranger"]/' "$CL/n3.toml"
}

cannot_follow() {
	stranger_conf
	cl_start 3 standby
	# The primary refuses each attempt; the stranger never holds anything.
	t=0
	until grep -q 'refused a standby that is not one of' "$CL/n1.log"; do
		t=$((t + 1))
		[ $t -lt 100 ] || { echo "# no refusal logged"; return 1; }
		sleep 0.1
	done
	sleep 2
	grep 'refused a standby' "$CL/n1.log" | sed 's/^/# /'
	[ "$(grep -c 'refused a standby that is not one of' "$CL/n1.log")" = 1 ] || {
		echo "# warned more than once"
		return 1
	}
	peers=$(cl_field 1 "sorted(p['node'] for p in s['peers'])")
	echo "# the primary's peers: $peers"
	[ "$peers" = "['cu-2']" ] || return 1
	sync=$(cl_field 3 "s['sync']")
	echo "# the stranger's sync: $sync"
	[ "$sync" != hot ]
}
ktap_check_out "a stranger's hasyncd cannot follow the primary: refused, warned once" cannot_follow

counted() {
	in_ns 1 "$HASYNC_BIN" stats daemon | sed 's/^/# /'
	n=$(in_ns 1 "$HASYNC_BIN" -j stats daemon | python3 -c "import json,sys; print(json.load(sys.stdin)['refused']['standbys'])")
	[ "$n" -ge 2 ]
}
ktap_check_out "each refused attempt is counted (hasync stats daemon)" counted

no_changes() {
	cl_kill 3
	out=$(in_ns 3 "$HASYNC_BIN" iface set dev evil0 mtu 1400 2>&1)
	rc=$?
	echo "# exit $rc: $out"
	[ $rc -ne 0 ] &&
		echo "$out" | grep -q 'unauthorized.*has run none of this cluster.s units' &&
		! hasync iface show dev evil0 >/dev/null 2>&1
}
ktap_check_out "a change from the stranger's node is refused as unauthorized, nothing changed" no_changes

no_switchover() {
	out=$(in_ns 3 "$HASYNC_BIN" switchover 2>&1)
	rc=$?
	echo "# exit $rc: $out"
	[ $rc -ne 0 ] && echo "$out" | grep -q unauthorized &&
		[ "$(cl_role 1)" = primary ]
}
ktap_check_out "the stranger's node cannot ask for a switchover either" no_switchover

listed_served() {
	in_ns 2 "$HASYNC_BIN" iface set dev good0 mtu 1400 &&
		hasync iface show dev good0 | grep -q 'mtu 1400'
}
ktap_check_out "a listed unit's node is still served" listed_served

control_counted() {
	in_ns 1 "$HASYNC_BIN" stats daemon | sed 's/^/# /'
	n=$(in_ns 1 "$HASYNC_BIN" -j stats daemon | python3 -c "import json,sys; print(json.load(sys.stdin)['refused']['control'])")
	grep 'control connection refused' "$CL/n1.log" | head -n 2 | sed 's/^/# /'
	[ "$n" = 2 ]
}
ktap_check_out "control refusals are logged and counted" control_counted

refusals_told() {
	seen ev1 "e['event']['kind'] == 'refused' and e['event']['what'] == 'standby'" &&
		seen ev1 "e['event'] == {'kind': 'refused', 'what': 'control', 'total': 2}"
}
ktap_check_out "the primary's event stream told each kind of refusal" refusals_told

ktap_finished
