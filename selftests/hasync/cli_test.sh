#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The CLI's answers where a user gets something wrong: an interface or a
# channel that does not exist is an error (as `ip link show dev X` says),
# and a destructive `kernel replay` never takes its records from a stdin it
# was not told to read: they are given as words, read `from FILE`, or the
# replay says `empty`. A refusal by the module's policy names the
# attribute it points at. Module 0.2.0's record fields (a link speed, a
# description of up to 255 bytes) round-trip and hash as every side says.
. "$(dirname "$0")/lib.sh"

ktap_header
ktap_plan 11
require || exit 1
module_load || exit 1
T=$(mktemp -d)
trap 'rm -rf "$T"; module_unload' EXIT

hasync channel add id 1 sections 8 >/dev/null &&
	hasync kernel update channel 1 epoch 1 opid 1 set dev eth0 mtu 9000 >/dev/null &&
	hasync kernel update channel 1 epoch 1 opid 2 set dev eth1 >/dev/null &&
	hasync kernel claim epoch 2 all >/dev/null || exit 1

# fails RC PATTERN CMD...: CMD exits RC and says PATTERN on stderr.
fails() {
	_rc=$1
	_want=$2
	shift 2
	_err=$("$@" 2>&1 >/dev/null)
	_got=$?
	echo "# exit $_got: $_err"
	[ "$_got" -eq "$_rc" ] && echo "$_err" | grep -q -- "$_want"
}

entries() {
	hasync -j channel show id 1 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['entries'])"
}

ktap_check "iface show dev: an absent device is an error, exit 1" \
	fails 1 'device "nosuch" does not exist' hasync iface show dev nosuch
ktap_check "iface show dev NAME channel N: named in the error" \
	fails 1 'device "nosuch" does not exist in channel 1' hasync iface show dev nosuch channel 1
ktap_check "iface show dev: a present device is shown" \
	sh -c "\"$HASYNC_BIN\" iface show dev eth0 | grep -q '^eth0: <DOWN> mtu 9000'"
ktap_check "iface show channel N: an absent channel is named, exit 1" \
	fails 1 'no channel 77' hasync iface show channel 77

no_source() {
	fails 2 'from FILE' hasync kernel replay channel 1 epoch 2 opid 3 sections 0xff </dev/null || return 1
	[ "$(entries)" = 2 ]
}
ktap_check "kernel replay without records: refused (exit 2), nothing replaced" no_source

from_file() {
	printf '# staged\ndev r1 mtu 1400\nset dev r2 up\n' >"$T/records"
	hasync kernel replay channel 1 epoch 2 opid 3 sections 0xff from "$T/records" || return 1
	[ "$(entries)" = 2 ] || return 1
	hasync -j iface show channel 1 | grep -q '"r1"' &&
		! hasync -j iface show channel 1 | grep -q '"eth0"'
}
ktap_check "kernel replay from FILE replaces the sections with its records" from_file

empty() {
	hasync kernel replay channel 1 epoch 2 opid 4 sections 0xff empty || return 1
	[ "$(entries)" = 0 ]
}
ktap_check "kernel replay ... empty clears the sections, as asked" empty

LONG=$(printf 'd%.0s' $(seq 255))
speed() {
	hasync kernel update channel 1 epoch 2 opid 5 set dev wan0 up speed 10000 desc "$LONG" >/dev/null ||
		return 1
	"$HASYNC_BIN" iface show dev wan0 | grep -q '^wan0: <UP> mtu 1500 speed 10000 ' || return 1
	hasync -j iface show dev wan0 >"$T/wan0.json" &&
		hasync -j channel show id 1 >"$T/ch.json" || return 1
	# The only record: its section's digest is its hash, as the reference
	# model computes it from the fields the module gave back.
	python3 - "$T" "$SELFTEST_DIR" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
import hasync_nl as H
rec = json.load(open(sys.argv[1] + "/wan0.json"))[0]
ch = json.load(open(sys.argv[1] + "/ch.json"))[0]
assert rec["speed"] == 10000 and len(rec["desc"]) == 255, rec
want = H.entry_hash({"name": "wan0", "admin-up": 1, "speed": 10000, "desc": "d" * 255})
got = {s["index"]: s["digest"] for s in ch["section"] if s["entries"]}
sec = H.section_of("wan0", 8)
assert got == {sec: want}, (got, sec, hex(want))
PY
}
ktap_check "kernel update: a link speed and a 255-byte description round-trip and hash alike" speed

too_long() {
	fails 2 '"desc" is 256 bytes, more than 255' \
		hasync kernel update channel 1 epoch 2 opid 6 set dev wan1 desc "${LONG}d" || return 1
	fails 1 'does not exist' hasync iface show dev wan1
}
ktap_check "kernel update: a 256-byte description is refused by name, nothing added" too_long

no_channel5() {
	! hasync -j channel show | grep -q '"id": *5[,}]'
}
policy_range() {
	fails 1 'out of range.*(attribute sections)' hasync channel add id 5 sections 0 &&
		no_channel5
}
ktap_check "channel add sections 0: the policy's refusal names the attribute" policy_range

policy_name() {
	fails 1 '(attribute name)' hasync channel add id 5 name "$(printf 'n%.0s' $(seq 40))" &&
		no_channel5
}
ktap_check "channel add with a 40-byte name: the refusal names the attribute" policy_name

ktap_finished
