#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The control API's TCP face on the floating service address ([tcp]):
#  - the primary takes the service address on its service interface and
#    serves the control API there; the standby does not hold it;
#  - `hasync --connect` reads status and makes a change through it;
#  - a request without a MAC, one signed with another secret, a replayed
#    and an out-of-order one are each refused, logged and counted, with
#    the connection closed and nothing changed;
#  - a client outside tcp.allow is closed before the greeting;
#  - when the primary's node fails (its links cut, then its daemon
#    killed) the new primary takes the address, announces it by
#    gratuitous ARP, and the client reaches it at the same address;
#  - a restarted unit does not hold the address; a switchover moves it
#    back.
# The client lives in its own namespace (hasync-c), on a bridge with both
# units' service interfaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

TCP_ALLOW='"10.77.0.0/25"'
. "$(dirname "$0")/tcp_lib.sh"
OTHER=$CL/other.key

cl_begin 13
trap 'ip netns del hasync-c 2>/dev/null; cl_cleanup' EXIT

# The client also has 10.77.0.200, outside tcp.allow; another secret
# signs the forged client's requests.
segment() {
	segment_up 10.77.0.200 &&
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$OTHER")
}

# holds N: node N has the service address on svc0.
holds() { in_ns "$1" ip -4 addr show dev svc0 | grep -q "inet $SVC/"; }

# ctl ARGS: the CLI from the client's namespace, over TCP.
ctl() { $C "$HASYNC_BIN" --connect "$SVC:$PORT" --secret "$KEY" "$@"; }

# wait_ctl EXPR: until `hasync -j status` over TCP satisfies EXPR.
wait_ctl() {
	python3 "$SELFTEST_DIR/cluster_wait.py" 30 "$1" \
		$C "$HASYNC_BIN" --connect "$SVC:$PORT" --secret "$KEY" -j status >&2
}

count_ifaces() { hasync iface show channel 1 | wc -l; }

start_pair() {
	segment || return 1
	conf_tcp 1 && conf_tcp 2 || return 1
	cl_start 1 primary
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	cl_start 2 standby
	cl_wait_hot 2 60 || return 1
	holds 1 && ! holds 2 || {
		echo "# the primary must hold $SVC and the standby not"
		return 1
	}
}
ktap_check_out "primary holds the service address, standby does not" start_pair

status_over_tcp() {
	out=$(ctl -j status) || return 1
	echo "$out" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("# over TCP:", s["node"], s["role"], s["sync"]); sys.exit(s["node"]!="cu-1" or s["role"]!="primary")'
}
ktap_check_out "hasync --connect: status from the primary" status_over_tcp

change_over_tcp() {
	ctl iface set dev tcp0 mtu 1400 up channel 1 || return 1
	hasync iface show dev tcp0 channel 1 | grep -q "mtu 1400" || {
		echo "# tcp0 did not reach the kernel"
		return 1
	}
}
ktap_check_out "hasync --connect: a change confirmed and in the kernel" change_over_tcp

# refused MODE: the raw client's MODE is refused by name, nothing changes,
# and the primary logged it.
refused() {
	before=$(count_ifaces)
	$C python3 "$SELFTEST_DIR/tcp_client.py" "$SVC" "$PORT" "$KEY" "$1" || return 1
	[ "$(count_ifaces)" = "$before" ] || { echo "# records changed"; return 1; }
	grep -q "TCP control request refused" "$CL/n1.log"
}
ktap_check_out "a request without a MAC is refused and the connection closed" refused plain
ktap_check_out "a request signed with another secret is refused (forged)" refused forged
replay_and_skip() { refused replay && refused skip; }
ktap_check_out "a replayed and an out-of-order request are refused" replay_and_skip

cli_forged() {
	out=$($C "$HASYNC_BIN" --connect "$SVC:$PORT" --secret "$OTHER" status 2>&1)
	rc=$?
	echo "# hasync with the wrong secret: $out (exit $rc)"
	[ $rc -ne 0 ] && echo "$out" | grep -q "unauthorized: forged request"
}
ktap_check_out "the CLI with the wrong secret says its request was forged" cli_forged

# 10.77.0.200 is on the segment but outside tcp.allow (10.77.0.0/25).
outside() {
	out=$($C python3 "$SELFTEST_DIR/tcp_client.py" "$SVC" "$PORT" "$KEY" status 10.77.0.200) || return 1
	echo "# from 10.77.0.200: $out"
	[ "$out" = "closed without greeting" ] &&
		grep -q "TCP client outside tcp.allow refused" "$CL/n1.log"
}
ktap_check_out "a client outside tcp.allow is closed before the greeting" outside

# Node failure: node 1's links go (TIPC and service), then its daemon.
node_failure() {
	old_mac=$(in_ns 1 cat /sys/class/net/svc0/address)
	in_ns 1 ip link set svc0 down
	in_ns 1 ip link set "$("$NETNS" dev 1 2)" down
	cl_kill 1
	t0=$(date +%s%N)
	cl_wait 2 "s['role']=='primary'" 30 || return 1
	wait_ctl "s['node']=='cu-2' and s['role']=='primary'" || return 1
	echo "# status over TCP from cu-2 $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
	holds 2 || { echo "# cu-2 does not hold $SVC"; return 1; }
	mac=$($C ip neigh show "$SVC" | awk '{print $5}')
	new_mac=$(in_ns 2 cat /sys/class/net/svc0/address)
	echo "# client's neighbour entry for $SVC: $mac (cu-1 had $old_mac, cu-2 has $new_mac)"
	[ "$mac" = "$new_mac" ]
}
ktap_check_out "node failure: the new primary takes the address; the client reaches it" node_failure

# Node 1 comes back as a rebooted node would, daemon restarted as a
# standby. It must not answer for the address.
rejoin() {
	# As after a reboot: none of its sockets survive; its service
	# interface comes back with the address a daemon killed mid-role
	# leaves behind, which the new daemon must clear.
	"$NETNS" reboot 1 2 && svc_link 1 || return 1
	in_ns 1 ip addr add "$SVC/24" dev svc0
	cl_start 1 standby
	cl_wait_hot 1 60 || return 1
	! holds 1 && holds 2 || { echo "# after the restart: only cu-2 may hold $SVC"; return 1; }
	wait_ctl "s['node']=='cu-2'"
}
ktap_check_out "a restarted unit clears the address it held and follows" rejoin

switch_back() {
	ctl switchover || return 1
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	wait_ctl "s['node']=='cu-1' and s['role']=='primary'" || return 1
	holds 1 && ! holds 2 || { echo "# after the switchover only cu-1 may hold $SVC"; return 1; }
	ctl iface set dev tcp1 mtu 1300 channel 1 >/dev/null || return 1
	hasync iface show dev tcp1 channel 1 | grep -q "mtu 1300"
}
ktap_check_out "switchover over TCP moves the address back; changes go on" switch_back

counted() {
	# The refusals above, in the log of the primary that saw them.
	n=$(grep -c "TCP control request refused" "$CL/n1.log")
	echo "# refusals logged by cu-1: $n"
	[ "$n" -ge 5 ]
}
ktap_check_out "every refusal was logged" counted

ktap_finished
