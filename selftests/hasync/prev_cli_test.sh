#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The previous release's hasync CLI (scripts/prev-release builds it from the
# project's history) against today's module: every request it sends keeps
# working and gets the answer it always got, whatever the module added.
. "$(dirname "$0")/lib.sh"

prev=${HASYNC_PREV_DIR:+$HASYNC_PREV_DIR/bin/hasync}
ktap_header
ktap_plan 10
require || exit 1
if [ -z "$prev" ] || [ ! -x "$prev" ]; then
	echo "# no previous release's CLI (HASYNC_PREV_DIR='${HASYNC_PREV_DIR:-}': run scripts/prev-release)"
	exit 1
fi
echo "# previous release: $(cat "$HASYNC_PREV_DIR/commit" 2>/dev/null)"
module_load || exit 1
trap module_unload EXIT

old() { "$prev" "$@"; }

# Exactly `want`, from the old CLI's own formats.
says() {
	want=$1
	shift
	got=$(old "$@" 2>&1) || { echo "exit $?: $got"; return 1; }
	[ "$got" = "$want" ] || { printf 'got:  %s\nwant: %s\n' "$got" "$want"; return 1; }
}

ktap_check "info: version and protocol line" sh -c \
	"\"$prev\" info | head -1 | grep -qx 'hasync [0-9.]* proto 1'"
ktap_check "channel add, then show in JSON with exactly the old keys" sh -c "
	\"$prev\" channel add id 1 sections 8 &&
	\"$prev\" -j channel show id 1 | grep -qx '\[{\"id\":1,\"sections\":8,\"register\":0,\"epoch\":0,\"entries\":0,\"section\":\[\(.*\)\],\"log_first_opid\":0}\]'"
ktap_check "update: the ACK line" says "ack channel 1 opid 1 cookie 0x10" \
	kernel update channel 1 epoch 1 opid 1 set dev eth0 mtu 9000 up addr 10.0.0.1/24
ktap_check "a duplicate: the ACK line with duplicate" says "ack channel 1 opid 1 cookie 0x10 duplicate" \
	kernel update channel 1 epoch 1 opid 1 set dev eth0 mtu 9000
gap() {
	out=$(old kernel update channel 1 epoch 1 opid 5 set dev eth1 2>&1) && { echo "succeeded: $out"; return 1; }
	case "$out" in *"Protocol error"*"register 1"*) ;; *) echo "$out"; return 1 ;; esac
}
ktap_check "a gap: refused with the protocol error and the register" gap
old kernel update channel 1 epoch 1 opid 2 set dev eth1 >/dev/null
ktap_check "iface show: the same records as today's CLI shows" sh -c \
	"[ \"\$(\"$prev\" -j iface show)\" = \"\$(\"$HASYNC_BIN\" -j iface show)\" ]"
ktap_check "claim: one line per channel, its register and epoch" says \
	"claimed channel 1 register 2 epoch 5" kernel claim epoch 5 all
ktap_check "cookies: the OR above an opid" says "channel 1 cookie 0x90" kernel cookies channel 1 after 0
ktap_check "replay: sections replaced, the register moved" says \
	"replayed channel 1 opid 3 sections 0xff" kernel replay channel 1 epoch 5 opid 3 sections 0xff set dev r1
monitor() {
	out=$(mktemp)
	# The binary itself, not a shell function: $! must be its pid.
	"$prev" -j monitor acks >"$out" 2>/dev/null </dev/null &
	pid=$!
	i=3
	while ! grep -q '"opid"' "$out"; do
		i=$((i + 1))
		[ $i -le 60 ] || break
		old kernel update channel 1 epoch 5 opid $i set dev m$i >/dev/null
		sleep 0.2
	done
	kill $pid
	wait $pid 2>/dev/null
	line=$(head -1 "$out")
	rm -f "$out"
	echo "$line" | grep -qx '{"event":"ack","channel":1,"opid":[0-9]*,"cookie":[0-9]*,"duplicate":false}' ||
		{ echo "ACK line: $line"; return 1; }
}
ktap_check "monitor: ACKs as JSON lines of the old shape" monitor

ktap_finished
