#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The TIPC transport (userspace/hasync-tipc) between two TIPC nodes in
# network namespaces: a connection by service name with messages both ways,
# the message size limit, datagrams, and the topology server's PUBLISHED /
# WITHDRAWN events when the publisher is SIGKILLed, when its node's veth goes
# down and when the link is cut silently, with the latencies as diagnostics.
# Needs the example built on the host:
#   cargo build --release --manifest-path userspace/Cargo.toml -p hasync-tipc --examples
. "$(dirname "$0")/lib.sh"

PROBE=${HASYNC_TIPC_PROBE:-$TOP/userspace/target/release/examples/tipc-probe}
NETNS=$TOP/scripts/tipc-netns
N1=hasync-n1
N2=hasync-n2
TYPE=18888
INST=1
KILLED=11
SVC="{$TYPE,$INST}"
DEV12=$("$NETNS" dev 1 2)
OUT=$(mktemp -d)
SERVER=

ktap_header
ktap_plan 13
if [ ! -x "$PROBE" ]; then
	echo "missing $PROBE (cargo build --release -p hasync-tipc --examples)" >&2
	exit 1
fi

cleanup() {
	[ -z "$SERVER" ] || kill -9 "$SERVER" 2>/dev/null
	"$NETNS" down 2
	rm -rf "$OUT"
}
trap cleanup EXIT

# The latencies are only as fine as the clock: under TCG the TSC sometimes
# fails calibration and the kernel falls back to jiffies (4 ms steps).
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
ktap_diag "clocksource: $(cat "$cs" 2>/dev/null || echo unknown)"

in1() { ip netns exec "$N1" "$@"; }
in2() { ip netns exec "$N2" "$@"; }

# ktap_check, but the command's output is shown as diagnostics on success
# too (round-trip times, latencies).
ktap_check_diag() {
	_name=$1
	shift
	_out=$("$@" 2>&1)
	_rc=$?
	printf '%s\n' "$_out" | sed 's/^/# /'
	if [ $_rc -eq 0 ]; then ktap_ok "$_name"; else ktap_not_ok "$_name"; fi
}

ktap_check "two TIPC nodes, link up" "$NETNS" up 2

identities() {
	a=$(in1 "$PROBE" node) || return 1
	b=$(in2 "$PROBE" node) || return 1
	echo "$a"
	echo "$b"
	case "$a" in *" identity $N1") ;; *) return 1 ;; esac
	case "$b" in *" identity $N2") ;; *) return 1 ;; esac
	[ "${a%% identity*}" != "${b%% identity*}" ]
}
ktap_check_diag "node identities and distinct node addresses" identities

start_server() {
	ip netns exec "$N1" "$PROBE" serve "$TYPE" "$INST" >"$OUT/serve" 2>&1 &
	SERVER=$!
}

server_ready() {
	i=0
	while ! grep -q '^ready' "$OUT/serve"; do
		kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/serve"; return 1; }
		[ $i -lt 100 ] || { echo "no 'ready' after 10 s"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	cat "$OUT/serve"
}

start_server
ktap_check_diag "publish $SVC in $N1" server_ready

ktap_check_diag "connect from $N2 by service name, 1000 messages both ways, orderly and abortive ends" \
	in2 "$PROBE" ping "$TYPE" "$INST" 1000
ktap_check_diag "largest message through, larger and empty ones refused" \
	in2 "$PROBE" limits "$TYPE" "$INST"
ktap_check_diag "RDM datagram there and back" in2 "$PROBE" rdm "$TYPE" "$INST"
ktap_check_diag "topology: subscription timeout, SERVICE filter, cancel" \
	in2 "$PROBE" topo "$TYPE" "$INST"

# The publisher's process dies: its socket closes and the publication goes.
# The probe starts this publisher ({$TYPE,$KILLED}) itself and times from
# its SIGKILL; the other triggers below are started ahead and act on a line
# from the probe.  Either way starting a program (tens of ms under TCG) is
# not counted.
ktap_check_diag "SIGKILL of the publisher: WITHDRAWN in $N2" \
	in2 "$PROBE" watch "$TYPE" "$KILLED" --kill -- \
	ip netns exec "$N1" "$PROBE" serve "$TYPE" "$KILLED"

# The publisher's node drops off: the veth going down resets the bearers
# on both sides at once (carrier loss), no link timeout involved.
ktap_check_diag "veth down: node and service WITHDRAWN in $N2" \
	in2 "$PROBE" watch "$TYPE" "$INST" --node-down --send "link set dev $DEV12 down" \
	-- ip -n "$N1" -batch -

# After the link comes back, the name tables are resynchronised: allow a
# moment before the service answers.
reachable() {
	i=0
	until in2 "$PROBE" ping "$TYPE" "$INST" 1; do
		[ $i -lt 50 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

veth_back() {
	ip -n "$N1" link set "$DEV12" up || return 1
	"$NETNS" wait 2 || return 1
	reachable
}
ktap_check "veth up: link back, service reachable again" veth_back

# A silent partition: every frame from $N1 dropped, carriers up; only
# the link supervision in $N2 notices (tolerance 1500 ms by default), and
# its reset tells $N1.
ktap_check_diag "silent partition: node and service WITHDRAWN after the link tolerance" \
	in2 "$PROBE" watch "$TYPE" "$INST" --node-down \
	--send "qdisc add dev $DEV12 root netem loss 100%" -- tc -n "$N1" -batch -

heal() {
	tc -n "$N1" qdisc del dev "$DEV12" root || return 1
	"$NETNS" wait 2 || return 1
	reachable
}
ktap_check "partition healed: link back, service reachable again" heal

teardown() {
	kill -9 "$SERVER" && wait "$SERVER"
	SERVER=
	"$NETNS" down 2
}
teardown 2>/dev/null
ktap_check "namespaces deleted" sh -c "! ip netns list | grep -q hasync-n"

ktap_finished
