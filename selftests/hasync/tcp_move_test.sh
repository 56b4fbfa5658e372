#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The transport half of a TCP face connection surviving a failover: one
# live connection from a client namespace moves between two server
# namespaces (hasyncd::tcp_repair, driven by the tcp_move example), with
# the server's link cut at each move as a failing node's would be. The
# server's state is read out on the cut node, the connection is rebuilt
# in repair mode on the other, the service address taken there and
# announced, and only then does the socket go live.
#  - every request is answered exactly once and in order, on the socket
#    the client opened (one active open, no reset, no RST sent by anyone);
#  - the stall at each move (median and worst) is printed.
# HASYNC_TCP_MOVES sets the number of moves (default 10).
. "$(dirname "$0")/lib.sh"

MOVES=${HASYNC_TCP_MOVES:-10}
MOVE=${HASYNC_TCP_MOVE:-$TOP/userspace/target/release/examples/tcp_move}
SVC=10.78.0.100
D=$(mktemp -d)
C="ip netns exec hasync-mc"

cleanup() {
	touch "$D/stop"
	for p in "$D"/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done
	for n in hasync-m1 hasync-m2 hasync-mc; do ip netns del "$n" 2>/dev/null; done
	for f in "$D"/*.log; do [ -f "$f" ] && tail -n 20 "$f" | sed "s|^|# $(basename "$f"): |"; done
	rm -rf "$D"
}
trap cleanup EXIT

ktap_header
ktap_plan 4
[ -x "$MOVE" ] || { echo "missing $MOVE (make userspace)" >&2; exit 1; }

segment_up() {
	ip netns add hasync-mc &&
		$C ip link set lo up &&
		$C ip link add br0 type bridge &&
		$C ip link set br0 up &&
		$C ip addr add 10.78.0.10/24 dev br0 || return 1
	for n in 1 2; do
		ip netns add "hasync-m$n" &&
			ip -n "hasync-m$n" link set lo up &&
			ip link add "c-m$n" netns hasync-mc type veth peer name svc0 netns "hasync-m$n" &&
			$C ip link set "c-m$n" master br0 &&
			$C ip link set "c-m$n" up &&
			ip -n "hasync-m$n" link set svc0 up &&
			ip -n "hasync-m$n" addr add "10.78.0.$n/24" dev svc0 || return 1
	done
	# Each server has its own address on the segment, as a node does;
	# the service address floats.
	ip -n hasync-m1 addr add "$SVC/24" dev svc0
}

# start the first server in m1 and the client; wait for its first answers.
stream_up() {
	(exec ip netns exec hasync-m1 "$MOVE" serve "$SVC:7800" "$D" </dev/null >/dev/null 2>>"$D/server.log") &
	echo $! >"$D/server.pid"
	sleep 0.5
	(exec $C "$MOVE" client "$SVC:7800" "$D" </dev/null >"$D/client.out" 2>>"$D/client.log") &
	echo $! >"$D/client.pid"
	sleep 1
	kill -0 "$(cat "$D/client.pid")" 2>/dev/null || { cat "$D/client.log"; return 1; }
}

rand() { echo $(($(od -An -N2 -tu2 /dev/urandom) % $1)); }

# move FROM TO: cut FROM's link, read the state out there, rebuild in TO.
move() {
	_t0=$(date +%s%N)
	ip -n "hasync-m$1" link set svc0 down
	touch "$D/go"
	_t=0
	while [ ! -f "$D/state" ]; do
		_t=$((_t + 1))
		[ $_t -lt 200 ] || { echo "# no state from m$1 in 10 s"; return 1; }
		sleep 0.05
	done
	# The old server exited without a FIN or RST; m1 "reboots" without
	# the address and comes back on the segment.
	while kill -0 "$(cat "$D/server.pid")" 2>/dev/null; do sleep 0.05; done
	ip -n "hasync-m$1" addr del "$SVC/24" dev svc0
	(exec ip netns exec "hasync-m$2" "$MOVE" resume "$D" svc0 24 </dev/null >/dev/null 2>>"$D/server.log") &
	echo $! >"$D/server.pid"
	while [ -f "$D/state" ]; do sleep 0.01; done
	# From the cut to the rebuild starting: this harness's share of the
	# client's stall (reading the state out, a process start in the VM).
	echo $((($(date +%s%N) - _t0) / 1000000)) >>"$D/harness.ms"
	ip -n "hasync-m$1" link set svc0 up
}

moves() {
	from=1
	i=0
	while [ $i -lt "$MOVES" ]; do
		i=$((i + 1))
		sleep "0.$(rand 9)$(rand 10)"
		to=$((3 - from))
		move "$from" "$to" || return 1
		kill -0 "$(cat "$D/client.pid")" 2>/dev/null || { echo "# the client stopped at move $i"; return 1; }
		from=$to
	done
	sleep 1
	touch "$D/stop"
	wait "$(cat "$D/client.pid")" 2>/dev/null
	while kill -0 "$(cat "$D/client.pid")" 2>/dev/null; do sleep 0.05; done
	grep -c resumed "$D/server.log" | sed 's/^/# moves done: /'
	sort -n "$D/harness.ms" | awk '{a[NR]=$1} END {print "# harness, cut to rebuild: median " a[int((NR+1)/2)] " ms, worst " a[NR] " ms"}'
	sed -n 's/.*resumed in \([0-9.]*\) ms.*/\1/p' "$D/server.log" | sort -n |
		awk '{a[NR]=$1} END {print "# rebuild, address, live: median " a[int((NR+1)/2)] " ms, worst " a[NR] " ms"}'
	[ -s "$D/client.out" ] || { echo "# the client failed:"; cat "$D/client.log"; return 1; }
	sed 's/^/# client: /' "$D/client.out"
}

counters() {
	# One SYN from the client ever; no reset seen or sent anywhere.
	$C nstat -asz TcpActiveOpens TcpEstabResets TcpOutRsts TcpExtTCPAbortOnData |
		grep -v '^#' | sed 's/^/# client: /'
	for n in 1 2; do
		ip netns exec "hasync-m$n" nstat -asz TcpOutRsts TcpPassiveOpens |
			grep -v '^#' | sed "s/^/# m$n: /"
	done
	[ "$(nstat_of hasync-mc TcpActiveOpens)" = 1 ] &&
		[ "$(nstat_of hasync-mc TcpEstabResets)" = 0 ] &&
		[ "$(nstat_of hasync-mc TcpOutRsts)" = 0 ] &&
		[ "$(nstat_of hasync-m1 TcpOutRsts)" = 0 ] &&
		[ "$(nstat_of hasync-m2 TcpOutRsts)" = 0 ] &&
		[ "$(nstat_of hasync-m2 TcpPassiveOpens)" = 0 ]
}

ktap_check "a client namespace on a bridge with two server namespaces" segment_up
ktap_check "a client's connection streams requests to the first server" stream_up
ktap_check_moves() {
	_out=$(moves 2>&1)
	_rc=$?
	printf '%s\n' "$_out" | grep -v '^$'
	if [ $_rc -eq 0 ] && printf '%s\n' "$_out" | grep -q "answered in order"; then
		ktap_ok "$MOVES moves, the link cut at each: every request answered once, in order"
	else
		ktap_not_ok "$MOVES moves, the link cut at each: every request answered once, in order"
	fi
}
ktap_check_moves
_out=$(counters 2>&1)
_rc=$?
printf '%s\n' "$_out"
if [ $_rc -eq 0 ]; then ktap_ok "one SYN, no reset sent or seen (nstat)"; else ktap_not_ok "one SYN, no reset sent or seen (nstat)"; fi
ktap_finished
