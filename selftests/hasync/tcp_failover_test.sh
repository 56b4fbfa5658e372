#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A client's TCP connection to the service address survives failovers:
# one authenticated connection from the client namespace streams requests
# (a change, then a status, and so on) while the primary changes
# $HASYNC_TCP_FAILOVERS times (default 20) at random moments, by node
# failure (its links cut, then its daemon killed; it comes back as a
# standby) and by switchover, in turn.
#  - every request is answered exactly once and in order, every change
#    confirmed, on the one socket the client opened;
#  - nobody sent or saw a reset, the client opened one connection
#    (nstat);
#  - the last change the client saw confirmed is in the kernel;
#  - the stall at each failover is printed (median and worst).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

FAILOVERS=${HASYNC_TCP_FAILOVERS:-20}
. "$(dirname "$0")/tcp_lib.sh"

cl_begin 7
trap 'ip netns del hasync-c 2>/dev/null; cl_cleanup' EXIT

start_pair() {
	segment_up || return 1
	conf_tcp 1 && conf_tcp 2 || return 1
	cl_start 1 primary
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	cl_start 2 standby
	cl_wait_hot 2 60
}
ktap_check "two units with the TCP face, the standby hot" start_pair

stream_up() {
	(exec $C python3 "$SELFTEST_DIR/tcp_client.py" "$SVC" "$PORT" "$KEY" stream "$CL/stop-stream" \
		</dev/null >"$CL/stream.out" 2>&1) &
	echo $! >"$CL/stream.pid"
	sleep 2
	kill -0 "$(cat "$CL/stream.pid")" 2>/dev/null || { cat "$CL/stream.out"; return 1; }
}
ktap_check "a client streams requests over one TCP connection" stream_up

# `hasync tcp show`: the primary serves the connection and its standby
# holds it, as of a recent round.
tcp_show() {
	in_ns 1 "$HASYNC_BIN" tcp show | sed 's/^/# n1: /'
	in_ns 2 "$HASYNC_BIN" tcp show | sed 's/^/# n2: /'
	in_ns 1 "$HASYNC_BIN" -j tcp show | python3 -c '
import json, sys
t = json.load(sys.stdin)
sys.exit(not (t["up"] and t["round"] > 0 and t["holders"] == 1
              and t["lag_ms"] is not None and t["lag_ms"] < 5000
              and [c["client"].split(":")[0] for c in t["connections"]] == ["10.77.0.10"]))' || return 1
	in_ns 2 "$HASYNC_BIN" -j tcp show | python3 -c '
import json, sys
t = json.load(sys.stdin)
sys.exit(not (not t["up"] and t["round"] > 0 and len(t["connections"]) == 1))'
}
ktap_check_out "tcp show: the primary serves the connection, the standby holds it" tcp_show

primary=1
# fail N: the primary's node fails: its links go, then its daemon; it
# reboots (its namespace made again: no socket of its past survives)
# and comes back as a standby.
fail() {
	p=$1
	s=$((3 - p))
	in_ns "$p" ip link set svc0 down
	in_ns "$p" ip link set "$("$NETNS" dev "$p" "$s")" down
	cl_kill "$p"
	cl_wait "$s" "s['role']=='primary'" 30 || return 1
	"$NETNS" reboot "$p" 2 || return 1
	svc_link "$p" || return 1
	cl_start "$p" standby
	cl_wait_hot "$p" 60
}

switch() {
	p=$1
	s=$((3 - p))
	in_ns "$p" "$HASYNC_BIN" switchover >/dev/null || return 1
	cl_wait "$s" "s['role']=='primary'" 30 || return 1
	cl_wait_hot "$p" 60
}

failovers() {
	i=0
	while [ $i -lt "$FAILOVERS" ]; do
		i=$((i + 1))
		sleep "0.$(cl_rand 10)"
		if [ $((i % 2)) = 1 ]; then
			fail "$primary" || { echo "# node failure $i failed"; return 1; }
		else
			switch "$primary" || { echo "# switchover $i failed"; return 1; }
		fi
		primary=$((3 - primary))
		kill -0 "$(cat "$CL/stream.pid")" 2>/dev/null || {
			echo "# the client stopped at failover $i:"
			cat "$CL/stream.out"
			return 1
		}
	done
	echo "# $FAILOVERS failovers: $(((FAILOVERS + 1) / 2)) node failures, $((FAILOVERS / 2)) switchovers"
	sleep 1
	touch "$CL/stop-stream"
	while kill -0 "$(cat "$CL/stream.pid")" 2>/dev/null; do sleep 0.1; done
	sed 's/^/# client: /' "$CL/stream.out"
	grep -q "answered once each, in order" "$CL/stream.out"
}
ktap_check_out "$FAILOVERS failovers: every request answered once, in order" failovers

counters() {
	echo "# client: active opens $(nstat_of hasync-c TcpActiveOpens), resets seen $(nstat_of hasync-c TcpEstabResets), RSTs sent $(nstat_of hasync-c TcpOutRsts)"
	echo "# units: RSTs sent $(nstat_of hasync-n1 TcpOutRsts) and $(nstat_of hasync-n2 TcpOutRsts)"
	[ "$(nstat_of hasync-c TcpActiveOpens)" = 1 ] &&
		[ "$(nstat_of hasync-c TcpEstabResets)" = 0 ] &&
		[ "$(nstat_of hasync-c TcpOutRsts)" = 0 ] &&
		[ "$(nstat_of hasync-n1 TcpOutRsts)" = 0 ] &&
		[ "$(nstat_of hasync-n2 TcpOutRsts)" = 0 ]
}
ktap_check_out "one connection opened, no reset sent or seen (nstat)" counters

last_change() {
	want=$(sed -n 's/.*last mtu \([0-9]*\);.*/\1/p' "$CL/stream.out")
	got=$(hasync iface show dev st0 channel 1 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
	echo "# last change confirmed to the client: mtu $want; the kernel: mtu $got"
	[ -n "$want" ] && [ "$want" = "$got" ]
}
ktap_check_out "the last confirmed change is in the kernel" last_change

taken_over() {
	n=$(grep -h "TCP connections taken over" "$CL"/n*.log | wc -l)
	echo "# takeovers that rebuilt the connection: $n"
	[ "$n" -ge "$FAILOVERS" ]
}
ktap_check_out "every new primary rebuilt the connection" taken_over

ktap_finished
