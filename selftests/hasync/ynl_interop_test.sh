#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Interoperability with the kernel's own spec-driven client: tools/net/ynl's
# cli.py, given only hasync.yaml and the genetlink schema, creates a channel,
# sends updates (one per message and several in one message), reads records
# and channels back, sees errors with their extack, runs a section replay,
# and a `--subscribe acks` session sees the ACKs of updates sent meanwhile.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
NL="$SELFTEST_DIR/hasync_nl.py"
YNL_CLI="$HASYNC_KDIR/tools/net/ynl/cli.py"
SCHEMA="$HASYNC_KDIR/Documentation/netlink/genetlink.yaml"
CH=42
W=$(mktemp -d "${TMPDIR:-/tmp}/hasync-ynl.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT

# Schema validation costs seconds per call under TCG: the first case
# validates the spec against the kernel's genetlink schema, the rest skip it.
ynl() { "$PY" "$YNL_CLI" --spec "$TOP/hasync.yaml" --no-schema "$@"; }

# jq-less JSON checks: jcheck 'EXPR' <json; EXPR is Python over o.
jcheck() {
	"$PY" -c '
import json, sys
text = sys.stdin.read()
o = json.loads(text)
if not eval("(" + sys.argv[1] + ")"):
    print("check failed:", sys.argv[1])
    print(text[:3000])
    sys.exit(1)
' "$1"
}

cookie() { "$PY" "$NL" cookie "$@"; }

ktap_header
ktap_plan 13
for f in "$YNL_CLI" "$SCHEMA" "$HASYNC_KO"; do
	[ -f "$f" ] || { echo "# missing $f (HASYNC_KDIR=$HASYNC_KDIR)"; exit 1; }
done
module_load || exit 1

list_ops() {
	out=$("$PY" "$YNL_CLI" --spec "$TOP/hasync.yaml" --schema "$SCHEMA" --list-ops) || return 1
	for op in info channel-new channel-get update claim cookies replay-begin replay-commit entry-get stats; do
		echo "$out" | grep -q "^$op " || { echo "no $op in: $out"; return 1; }
	done
}
ktap_check "cli.py validates hasync.yaml against the schema and lists its operations" list_ops

channel_new() {
	out=$(ynl --do channel-new --json "{\"id\": $CH, \"name\": \"interop\", \"sections\": 8}" --output-json) ||
		{ echo "$out"; return 1; }
	[ "$out" = null ] || { echo "unexpected reply: $out"; return 1; }
}
ktap_check "--do channel-new" channel_new

channel_get() {
	ynl --do channel-get --json "{\"id\": $CH}" --output-json | jcheck \
		'o["id"] == 42 and o["name"] == "interop" and o["sections"] == 8 and o["register"] == 0 and
		 o["epoch"] == 0 and o["entries"] == 0 and len(o["section"]) == 8'
}
ktap_check "--do channel-get shows the new channel" channel_get

C1=$(cookie 8 eth0 eth1)
update() {
	out=$(ynl --do update --output-json --json "{\"channel\": $CH, \"epoch\": 0, \"opid\": 1, \"cookie\": $C1,
		\"op\": [{\"kind\": \"set\", \"iface\": {\"name\": \"eth0\", \"admin-up\": 1, \"mtu\": 9000,
			\"mac\": \"020000000001\", \"vlan\": 42,
			\"addr\": [{\"family\": 4, \"prefix-len\": 24, \"address\": \"0a000001\"},
				 {\"family\": 6, \"prefix-len\": 64, \"address\": \"20010db8000000000000000000000001\"}],
			\"desc\": \"uplink\"}},
			 {\"kind\": \"set\", \"iface\": {\"name\": \"eth1\"}}]}") || { echo "$out"; return 1; }
	echo "$out" | jcheck "o == {'channel': 42, 'epoch': 0, 'opid': 1, 'cookie': $C1}"
}
ktap_check "--do update: the reply is the ACK {channel, epoch, opid, cookie}" update

entries() {
	ynl --dump entry-get --json "{\"channel\": $CH}" --output-json | jcheck '
len(o) == 2 and all(e["channel"] == 42 for e in o) and
[e["iface"] for e in o if e["iface"]["name"] == "eth0"] == [{"name": "eth0", "admin-up": 1, "mtu": 9000,
  "mac": "020000000001", "vlan": 42, "desc": "uplink", "section": 4,
  "addr": [{"family": 4, "prefix-len": 24, "address": "0a000001"},
           {"family": 6, "prefix-len": 64, "address": "20010db8000000000000000000000001"}]}]'
}
ktap_check "--dump entry-get returns the records as sent, with their section" entries

entry_do() {
	ynl --do entry-get --json "{\"channel\": $CH, \"name\": \"eth1\"}" --output-json | jcheck '
o["channel"] == 42 and o["iface"]["name"] == "eth1" and o["iface"]["mtu"] == 1500 and
o["iface"].get("admin-up", 0) == 0 and o["iface"].get("addr", []) == []'
}
ktap_check "--do entry-get of a record set with defaults" entry_do

gap() {
	out=$(ynl --do update --json "{\"channel\": $CH, \"epoch\": 0, \"opid\": 5, \"cookie\": $(cookie 8 x),
		\"op\": [{\"kind\": \"set\", \"iface\": {\"name\": \"x\"}}]}" 2>&1)
	rc=$?
	[ $rc = 1 ] || { echo "exit $rc: $out"; return 1; }
	echo "$out" | grep -q "Protocol error" || { echo "not EPROTO: $out"; return 1; }
	echo "$out" | grep -q "'msg'" || { echo "no extack message: $out"; return 1; }
}
ktap_check "a gapped update through cli.py fails with EPROTO and an extack message" gap

multi() {
	set -f
	set -- 2 3 4
	args=
	for o in "$@"; do
		args="$args --multi update {\"channel\":$CH,\"epoch\":0,\"opid\":$o,\"cookie\":$(cookie 8 "m$o"),\"op\":[{\"kind\":\"set\",\"iface\":{\"name\":\"m$o\"}}]}"
	done
	# shellcheck disable=SC2086
	out=$(ynl $args --output-json) || { echo "$out"; return 1; }
	echo "$out" | jcheck "[a['opid'] for a in o] == [2, 3, 4] and all(a['channel'] == 42 for a in o)"
}
ktap_check "--multi: three updates in one message, three ACKs" multi

subscribe() {
	ynl --subscribe acks --sleep 12 --output-json >"$W/sub.json" 2>"$W/sub.err" &
	sub=$!
	"$PY" "$NL" tick --channel $CH --while-pid $sub --interval 0.3 --seconds 60 --out "$W/tick.json" ||
		{ kill $sub; return 1; }
	wait $sub || { cat "$W/sub.err"; return 1; }
	"$PY" - "$W/sub.json" "$W/tick.json" <<'EOF'
import json, sys
seen = json.load(open(sys.argv[1]))
sent = json.load(open(sys.argv[2]))
print(f"# {len(sent)} updates sent while cli.py listened, {len(seen)} notifications seen")
acks = [m["msg"] for m in seen if m["name"] == "ack-ntf"]
if not acks:
    sys.exit(f"cli.py --subscribe acks saw no ack-ntf: {seen}")
if any(m["name"] != "ack-ntf" for m in seen):
    sys.exit(f"unexpected notifications: {seen}")
idx = [sent.index(a) if a in sent else None for a in acks]
if None in idx:
    sys.exit(f"ack-ntf not matching any sent update: {acks} vs {sent}")
if idx != list(range(idx[0], idx[0] + len(idx))):
    sys.exit(f"the ACKs seen are not a contiguous run of those sent: {idx}")
EOF
}
ktap_check "--subscribe acks --sleep: sees the ACKs of updates sent meanwhile" subscribe

claim() {
	ynl --do claim --json "{\"id\": $CH, \"epoch\": 2}" --output-json | jcheck \
		'len(o["claimed"]) == 1 and o["claimed"][0]["id"] == 42 and o["claimed"][0]["epoch"] == 2 and
		 o["claimed"][0]["register"] >= 4'
}
ktap_check "--do claim returns the claimed channel with its register" claim

replay() {
	reg=$(ynl --do channel-get --json "{\"id\": $CH}" --output-json |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["register"])') || return 1
	opid=$((reg + 5))
	# all three on one socket, in one message
	out=$(ynl --output-json \
		--multi replay-begin "{\"channel\":$CH,\"epoch\":2,\"opid\":$opid,\"sections\":255}" \
		--multi replay-entries "{\"channel\":$CH,\"iface\":[{\"name\":\"r1\",\"mtu\":1400},{\"name\":\"r2\"}]}" \
		--multi replay-commit "{\"channel\":$CH}") || { echo "$out"; return 1; }
	echo "$out" | jcheck "o[2] == {'channel': 42, 'epoch': 2, 'opid': $opid, 'sections': 255}" || return 1
	ynl --dump entry-get --json "{\"channel\": $CH}" --output-json |
		jcheck 'sorted(e["iface"]["name"] for e in o) == ["r1", "r2"]' || return 1
	ynl --do channel-get --json "{\"id\": $CH}" --output-json | jcheck "o['register'] == $opid and o['entries'] == 2"
}
ktap_check "--multi replay-begin, replay-entries, replay-commit replace every section" replay

reads() {
	ynl --do cookies --json "{\"channel\": $CH, \"after-opid\": 0}" --output-json |
		jcheck 'o["channel"] == 42 and ("cookie" in o or o.get("log-short") is True)' || return 1
	ynl --dump channel-get --output-json | jcheck 'any(c["id"] == 42 for c in o)' || return 1
	ynl --do stats --output-json | jcheck '"cmd" in o and "ops-applied" in o and o["ops-applied"] >= 5' || return 1
	ynl --do info --output-json | jcheck 'o["channels"] == 1 and o["entries"] == 2'
}
ktap_check "--do cookies, --dump channel-get, --do stats, --do info" reads

ktap_check "unload" module_unload

ktap_finished
