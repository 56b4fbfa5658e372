#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One set of tables for every network namespace: requests from any namespace
# see and change the same channels, and ACK and monitor notifications reach
# subscribers in the initial namespace and in two others (the daemons run in
# namespaces of their own).
. "$(dirname "$0")/lib.sh"

ktap_header
ktap_plan 5
require || exit 1
module_load || exit 1

d=$(mktemp -d)
nsa=hasync-ns-a
nsb=hasync-ns-b
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$d"
	module_unload
}
trap cleanup EXIT

ip netns add "$nsa" && ip netns add "$nsb" || exit 1
hasync channel add id 1 sections 8 || exit 1
hasync channel add id 2 sections 8 || exit 1

# The binaries themselves (ip netns exec execs them), not shell functions:
# $! must be the monitor's pid for the cleanup to stop it.
"$HASYNC_BIN" -j monitor acks >"$d/init" 2>&1 </dev/null &
pids="$pids $!"
ip netns exec "$nsa" "$HASYNC_BIN" -j monitor acks >"$d/a" 2>&1 </dev/null &
pids="$pids $!"
ip netns exec "$nsb" "$HASYNC_BIN" -j monitor all >"$d/b" 2>&1 </dev/null &
pids="$pids $!"

# Wait until every monitor has subscribed: probe channel 2 until each of
# them has seen one of its ACKs.
probe=0
subscribed() {
	for f in init a b; do
		grep -q '"event":"ack","channel":2' "$d/$f" || return 1
	done
}
while ! subscribed; do
	probe=$((probe + 1))
	[ $probe -le 200 ] || { echo "# monitors never saw a probe ACK"; break; }
	hasync kernel update channel 2 epoch 1 opid $probe set dev probe mtu $((1000 + probe)) >/dev/null
	sleep 0.1
done

# Five updates of channel 1: three from the initial namespace, two from
# namespace a.
for i in 1 2 3; do
	hasync kernel update channel 1 epoch 1 opid $i set dev eth$i mtu 9000 >/dev/null || exit 1
done
for i in 4 5; do
	ip netns exec "$nsa" "$HASYNC_BIN" kernel update channel 1 epoch 1 opid $i set dev eth$i >/dev/null || exit 1
done

# The opids of channel 1's ACKs a monitor saw.
acks() { grep '"event":"ack","channel":1,' "$d/$1" | sed 's/.*"opid":\([0-9]*\).*/\1/' | tr '\n' ' '; }
deadline=$(($(date +%s) + 20))
while [ "$(acks init)" != "1 2 3 4 5 " ] || [ "$(acks a)" != "1 2 3 4 5 " ] ||
	[ "$(acks b)" != "1 2 3 4 5 " ]; do
	[ "$(date +%s)" -lt $deadline ] || break
	sleep 0.2
done

same_everywhere() {
	want=$(hasync -j channel show id 1) || return 1
	for ns in "$nsa" "$nsb"; do
		got=$(ip netns exec "$ns" "$HASYNC_BIN" -j channel show id 1) || return 1
		[ "$got" = "$want" ] || { echo "$ns: $got"; echo "init: $want"; return 1; }
	done
	case "$want" in *'"register":5'*) ;; *) echo "register is not 5: $want"; return 1 ;; esac
}
ktap_check "channel 1 reads the same from all three namespaces, register 5" same_everywhere

saw_all() {
	got=$(acks "$1")
	[ "$got" = "1 2 3 4 5 " ] || { echo "ACKs of channel 1 seen in $2: '$got'"; cat "$d/$1"; return 1; }
	grep '"event":"ack","channel":1,' "$d/$1" | grep -qv '"epoch":1' &&
		{ echo "an ACK without epoch 1"; return 1; }
	return 0
}
ktap_check "ACKs reach a subscriber in the initial namespace" saw_all init init_net
ktap_check "ACKs of updates sent from another namespace reach it too" saw_all a "$nsa"
ktap_check "ACKs reach a subscriber in a third namespace" saw_all b "$nsb"

entries_in_b() {
	for i in 1 2 3 4 5; do
		grep -q "\"event\":\"entry\",\"channel\":1,.*\"name\":\"eth$i\"" "$d/b" ||
			{ echo "no entry event for eth$i in $nsb"; cat "$d/b"; return 1; }
	done
}
ktap_check "record changes reach a monitor subscriber in a third namespace" entries_in_b

ktap_finished
