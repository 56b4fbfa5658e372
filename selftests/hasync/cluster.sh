# SPDX-License-Identifier: GPL-2.0
# A two-daemon cluster for the end-to-end tests: hasyncd in the network
# namespaces hasync-n1 and hasync-n2 (TIPC nodes joined by a veth pair, see
# scripts/tipc-netns), sharing the VM's hasync.ko.  Sourced after lib.sh.

HASYNCD=${HASYNCD:-$TOP/userspace/target/release/hasyncd-fault}
HASYNC_LOAD=${HASYNC_LOAD:-$TOP/userspace/target/release/hasync-load}
NETNS=$TOP/scripts/tipc-netns
CL=$(mktemp -d)
# Channels every daemon serves: id:sections.
CL_CHANNELS=${CL_CHANNELS:-"1:8 2:8 3:4 4:16 5:1 6:8"}
CL_TOL=${CL_TOL:-400}
# How many nodes the test uses (cl_cleanup stops and removes them all).
CL_NODES=${CL_NODES:-2}

in_ns() { _n=$1; shift; ip netns exec "hasync-n$_n" "$@"; }

# cl_begin PLAN [MODULE_PARAM...]: a cluster test's opening: the KTAP
# header and plan, the tools checked, cleanup at exit, and its first case:
# the module loaded (with MODULE_PARAMs) and $CL_NODES TIPC nodes up.
cl_begin() {
	_plan=$1
	shift
	ktap_header
	ktap_plan "$_plan"
	require || exit 1
	for _f in "$HASYNCD" "$HASYNC_LOAD"; do
		[ -x "$_f" ] || { echo "missing $_f (make userspace)" >&2; exit 1; }
	done
	trap cl_cleanup EXIT
	ktap_check "module loaded${1:+ with $*}, $CL_NODES TIPC nodes" cl_up "$@"
}

cl_up() { module_load "$@" && "$NETNS" up "$CL_NODES"; }

# cl_conf N ACK_PATH [TRAILING]: write $CL/nN.toml.
cl_conf() {
	{
		echo "node = \"cu-$1\""
		echo "units = [\"cu-1\", \"cu-2\", \"cu-3\"]"
		echo "ack_path = \"$2\""
		echo "trailing = \"${3:-replay}\""
		echo "log_level = \"info\""
		echo "[limits]"
		echo "link_tolerance_ms = $CL_TOL"
		for c in $CL_CHANNELS; do
			echo "[[channels]]"
			echo "id = ${c%%:*}"
			echo "sections = ${c##*:}"
		done
	} >"$CL/n$1.toml"
}

# cl_primary_up [TIMEOUT]: configs for nodes 1 and 2 (ack_path both), and
# node 1 started as primary and waited for.
cl_primary_up() {
	cl_conf 1 both && cl_conf 2 both || return 1
	cl_start 1 primary
	cl_wait 1 "s['role']=='primary'" "${1:-30}"
}

# cl_start N ROLE [FAULT]: start the daemon of node N.  The subshell execs
# the daemon so that nothing holds the caller's stdout (a test case runs in
# a command substitution, which would otherwise wait for the daemon).
cl_start() {
	echo "=== start $2 ${3:-}" >>"$CL/n$1.log"
	(exec ip netns exec "hasync-n$1" env HASYNCD_FAULT="${3:-}" "$HASYNCD" \
		-c "$CL/n$1.toml" --role "$2" >>"$CL/n$1.log" 2>&1 </dev/null) &
	echo $! >"$CL/n$1.pid"
}

cl_pid() { cat "$CL/n$1.pid" 2>/dev/null; }
# Alive and not a zombie (the test's subshells leave orphans to init).
cl_alive() {
	_p=$(cl_pid "$1") && [ -n "$_p" ] && [ -r "/proc/$_p/stat" ] &&
		[ "$(cut -d' ' -f3 "/proc/$_p/stat" 2>/dev/null)" != Z ]
}

# ktap_check, with the case's output shown as diagnostics also on success.
ktap_check_out() {
	_name=$1
	shift
	_out=$("$@" 2>&1)
	_rc=$?
	printf '%s\n' "$_out" | grep -v '^$' | sed 's/^# //; s/^/# /'
	if [ $_rc -eq 0 ]; then ktap_ok "$_name"; else ktap_not_ok "$_name"; fi
}

# cl_kill N [SIGNAL]
cl_kill() {
	_p=$(cl_pid "$1") || return 0
	[ -n "$_p" ] || return 0
	kill "-${2:-9}" "$_p" 2>/dev/null
	while cl_alive "$1"; do sleep 0.05; done
	rm -f "$CL/n$1.pid"
}

cl_status() { in_ns "$1" "$HASYNC_BIN" -j status 2>/dev/null; }

# cl_role N: node N's role (no Python: it is asked in tight loops).
cl_role() {
	cl_status "$1" | grep -o '"role":"[a-z-]*"' | head -n 1 | cut -d'"' -f4
}

# cl_field N EXPR: a Python expression over the status `s`.
cl_field() {
	cl_status "$1" | python3 -c "import json,sys; s=json.load(sys.stdin); print($2)" 2>/dev/null
}

# cl_wait N EXPR TIMEOUT: wait until EXPR (Python, over `s`) holds.
cl_wait() {
	python3 "$SELFTEST_DIR/cluster_wait.py" "${3:-20}" "$2" \
		ip netns exec "hasync-n$1" "$HASYNC_BIN" -j status >&2 || {
		echo "# node $1: see above" >&2
		return 1
	}
}

cl_wait_hot() { cl_wait "$1" "s['role']=='standby' and s['sync']=='hot'" "${2:-30}"; }
cl_wait_primary() { cl_wait "$1" "s['role']=='primary' and s['pending']==0 and s.get('last_takeover') and s['last_takeover']['total_ms']>0" "${2:-30}"; }

# cl_wait_dead N TIMEOUT
cl_wait_dead() {
	_deadline=$(($(date +%s) + ${2:-30}))
	while cl_alive "$1"; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.1
	done
	rm -f "$CL/n$1.pid"
}

# cl_load_start NODE: a steady stream of changes from node NODE's namespace,
# over a fixed set of interface names (so the tables never fill up).  Each
# stream's sequence numbers start above every earlier one's: a record an
# earlier stream left can never pass for a change this one confirmed.  Its
# log replaces the previous one.
cl_load_start() {
	# A case that failed before its cl_load_stop left its stream running:
	# it would keep writing the same interfaces under the next stream's
	# log and pass for a lost change. Stop it first.
	if [ -f "$CL/load.pid" ]; then
		_p=$(cat "$CL/load.pid")
		kill -9 "$_p" 2>/dev/null
		while [ -r "/proc/$_p/stat" ] && [ "$(cut -d' ' -f3 "/proc/$_p/stat")" != Z ]; do
			sleep 0.05
		done
		rm -f "$CL/load.pid"
	fi
	rm -f "$CL/stop"
	_run=$(($(cat "$CL/runs" 2>/dev/null || echo 0) + 1))
	echo "$_run" >"$CL/runs"
	(exec ip netns exec "hasync-n$1" "$HASYNC_LOAD" --channels "$(cl_ids)" \
		--prefix r --first-seq $((_run * 100000000)) --window 8 --keys 24 --skew 600 \
		--seed "$(cl_rand 65535)" --reconnect-ms 60000 \
		--stop-file "$CL/stop" --log "$CL/load.log" --quiet \
		>>"$CL/load.out" 2>>"$CL/load.err" </dev/null) &
	echo $! >"$CL/load.pid"
}

# cl_load_stop: stop the stream, once it has had changes confirmed by the
# primary it reconnected to last (or after 20 s: cluster_check.py then
# reports a stream that never resumed).
cl_load_stop() {
	_deadline=$(($(date +%s) + 20))
	while [ "$(date +%s)" -lt "$_deadline" ] && ! cl_load_resumed; do
		sleep 0.2
	done
	touch "$CL/stop"
	_p=$(cat "$CL/load.pid" 2>/dev/null) || return 0
	while [ -r "/proc/$_p/stat" ] && [ "$(cut -d' ' -f3 "/proc/$_p/stat")" != Z ]; do
		sleep 0.05
	done
	rm -f "$CL/load.pid"
}

# cl_load_flowing: wait (up to 10 s) for the stream's first confirmed
# change, so that a fault drawn after it lands mid-stream.
cl_load_flowing() {
	_deadline=$(($(date +%s) + 10))
	until grep -q '"ev":"confirmed"' "$CL/load.log" 2>/dev/null; do
		[ "$(date +%s)" -lt "$_deadline" ] || { echo "# the stream confirmed nothing in 10 s"; return 1; }
		sleep 0.1
	done
}

# cl_load_resumed: the stream's last confirmation or reconnection is a
# confirmation (read from the log's end: it grows by thousands of lines).
cl_load_resumed() {
	tac "$CL/load.log" 2>/dev/null | grep -m1 -E '"ev":"(confirmed|reconnected)"' |
		grep -q '"ev":"confirmed"'
}

cl_ids() { for c in $CL_CHANNELS; do printf '%s,' "${c%%:*}"; done | sed 's/,$//'; }

# cl_rand N: a number in 0..N-1.
cl_rand() { echo $(($(od -An -N2 -tu2 /dev/urandom) % $1)); }

# cl_check PRIMARY [--partition]: the invariants after a takeover, with the
# last stream stopped (see cluster_check.py).
cl_check() {
	cl_status "$1" >"$CL/status.json" || return 1
	hasync -j channel show >"$CL/channels.json" || return 1
	hasync -j iface show >"$CL/ifaces.json" || return 1
	python3 "$SELFTEST_DIR/cluster_check.py" ${2:+"$2"} "$CL/status.json" "$CL/channels.json" \
		"$CL/ifaces.json" "$CL/load.log"
}

cl_cleanup() {
	touch "$CL/stop"
	for n in $(seq "$CL_NODES"); do cl_kill "$n"; done
	[ ! -f "$CL/load.pid" ] || kill -9 "$(cat "$CL/load.pid")" 2>/dev/null
	"$NETNS" down "$CL_NODES" 2>/dev/null
	module_unload
	if [ -n "${CL_KEEP:-}" ]; then
		echo "# logs kept in $CL" >&2
	else
		for n in $(seq "$CL_NODES"); do
			[ ! -f "$CL/n$n.log" ] || tail -n 30 "$CL/n$n.log" | sed "s/^/# n$n: /"
		done
		rm -rf "$CL"
	fi
}

# Links come up with TIPC's default tolerance (1.5 s). hasyncd sets every
# bearer of its node to limits.link_tolerance_ms ($CL_TOL here) itself, so
# the daemon-run tests do not call this; it is for runs without a daemon.
cl_tolerance() {
	for n in 1 2; do
		for dev in $(in_ns "$n" tipc bearer list 2>/dev/null); do
			in_ns "$n" tipc bearer set tolerance "$CL_TOL" media eth device "${dev#eth:}" || return 1
		done
	done
}

# follow N NAME: node N's event stream as JSON lines into $CL/NAME.jsonl.
follow() {
	(exec ip netns exec "hasync-n$1" "$HASYNC_BIN" -j monitor daemon \
		>"$CL/$2.jsonl" 2>"$CL/$2.err" </dev/null) &
	echo $! >"$CL/$2.pid"
}

# seen NAME EXPR [TIMEOUT]: an event of NAME's stream for which EXPR
# (Python, over the event `e`) holds.
seen() {
	python3 - "$CL/$1.jsonl" "$2" "${3:-20}" <<'PY'
import json, sys, time
path, expr, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + timeout
while True:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        lines = []
    for l in lines:
        # A line still being written is read again next time.
        try:
            e = json.loads(l)
        except ValueError:
            continue
        if eval(expr):
            print("# " + l)
            sys.exit(0)
    if time.time() > end:
        print("# no event with " + expr + " in:")
        for l in lines:
            print("#   " + l)
        sys.exit(1)
    time.sleep(0.1)
PY
}
