#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The daemon's event stream and counters (`hasync monitor daemon`,
# `hasync stats daemon`): a follower is told the state first, then one
# line per change: a standby attaching and becoming hot, the primary's
# death and the takeover seen from the standby, with its report (whose
# detection counts from the loss, not from the idle stream's last frame);
# the counters add up to the changes made and the takeover.
. "$(dirname "$0")/lib.sh"
CL_CHANNELS="1:8 2:4"
. "$(dirname "$0")/cluster.sh"

cl_begin 8

initial_state() {
	cl_primary_up || return 1
	follow 1 ev1
	seen ev1 "e['initial'] and e['event'] == {'kind': 'role', 'role': 'primary', 'phase': 'primary', 'epoch': e['event']['epoch']}" &&
		seen ev1 "e['initial'] and e['event']['kind'] == 'takeover' and e['event']['report']['reason'] == 'start'"
}
ktap_check_out "a follower is told the state first: role, the start's report" initial_state

standby_events() {
	cl_start 2 standby
	cl_wait_hot 2 60 || return 1
	seen ev1 "not e.get('initial') and e['event']['kind'] in ('peer-up', 'peer-state') and e['event']['peer'] == 'cu-2' and e['event']['state'] == 'hot'"
}
ktap_check_out "the primary's stream: the standby attaches and becomes hot" standby_events

text_form() {
	timeout 3 ip netns exec hasync-n2 "$HASYNC_BIN" monitor daemon >"$CL/text2" 2>&1 </dev/null
	sed 's/^/# /' "$CL/text2"
	grep -q '^exists role role:standby phase:standby/hot epoch:[0-9]* node:cu-2$' "$CL/text2" &&
		grep -q '^exists peer-up peer:cu-1 state:primary node:cu-2$' "$CL/text2"
}
ktap_check_out "text lines: exists role ..., exists peer-up ... on the standby" text_form

changes_counted() {
	for i in 1 2 3 4 5; do
		in_ns 1 "$HASYNC_BIN" iface set dev ev$i mtu 150$i >/dev/null || return 1
	done
	in_ns 1 "$HASYNC_BIN" stats daemon | sed 's/^/# /'
	in_ns 2 "$HASYNC_BIN" stats daemon | sed 's/^/# /'
	p=$(in_ns 1 "$HASYNC_BIN" -j stats daemon) || return 1
	s=$(in_ns 2 "$HASYNC_BIN" -j stats daemon) || return 1
	python3 - "$p" "$s" <<'PY'
import json, sys
p, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert p["role"] == "primary" and p["primary"]["confirmed"] >= 5, p
assert p["primary"]["sent"] >= p["primary"]["confirmed"], p
assert p["primary"]["standbys"] == 1 and p["primary"]["standbys_hot"] == 1, p
assert s["role"] == "standby" and s["standby"]["applied"] >= 5, s
assert s["standby"]["channels"] == 2 and s["standby"]["channels_hot"] == 2, s
assert s["leader_connects"] >= 1 and p["takeovers"] == 0, (p, s)
PY
}
ktap_check_out "counters: 5 changes confirmed by the primary, applied by the standby" changes_counted

takeover_events() {
	follow 2 ev2
	seen ev2 "e['initial'] and e['event']['kind'] == 'role'" || return 1
	cl_kill 1
	seen ev2 "e['event'] == {'kind': 'peer-down', 'peer': 'cu-1'}" 30 &&
		seen ev2 "not e.get('initial') and e['event']['kind'] == 'role' and e['event']['role'] == 'primary'" 30 &&
		seen ev2 "e['event']['kind'] == 'takeover' and e['event']['report']['reason'] == 'primary lost' and e['event']['report']['node'] == 'cu-2' and e['event']['report']['detection_ms'] < 1000" 30
}
ktap_check_out "the standby's stream: the primary gone, then role primary and the takeover report" takeover_events

follower_of_dead_ends() {
	p=$(cat "$CL/ev1.pid")
	t=0
	while kill -0 "$p" 2>/dev/null; do
		t=$((t + 1))
		[ $t -lt 50 ] || { echo "# the dead primary's follower still runs"; return 1; }
		sleep 0.1
	done
	sed 's/^/# /' "$CL/ev1.err"
	[ -s "$CL/ev1.err" ]
}
ktap_check_out "a follower of a daemon that died ends, saying so" follower_of_dead_ends

takeover_counted() {
	n=$(in_ns 2 "$HASYNC_BIN" -j stats daemon | python3 -c "import json,sys; print(json.load(sys.stdin)['takeovers'])")
	echo "# takeovers on cu-2: $n"
	[ "$n" = 1 ]
}
ktap_check_out "counters: the takeover is counted" takeover_counted

told_once() {
	# One line per change, never two for one: the stream saw the unit
	# become primary once, and one takeover report (the final one).
	n=$(grep -c '"role":"primary","phase":"primary"' "$CL/ev2.jsonl")
	t=$(grep -c '"kind":"takeover"' "$CL/ev2.jsonl")
	echo "# role primary events: $n, takeover events: $t"
	[ "$n" = 1 ] && [ "$t" = 1 ]
}
ktap_check_out "each change is told once" told_once

ktap_finished
