#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Concurrency: several senders at once on distinct channels and on one
# channel, dumps while updates run, a claim racing a sender, replays racing
# updates, and unloading the module while senders, dumpers, listeners and an
# open replay are live.  Splats are caught by the VM runner (any kernel
# WARNING/BUG/lockdep line fails the run).  The workers are sub-commands of
# hasync_nl.py.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
NL="$SELFTEST_DIR/hasync_nl.py"
W=$(mktemp -d "${TMPDIR:-/tmp}/hasync-conc.XXXXXX") || exit 1
trap 'reap; rm -rf "$W"' EXIT

nl() { "$PY" "$NL" "$@"; }

# spawn NAME ARGS...: run the worker `hasync_nl.py ARGS...` in the
# background (python itself, no shell in between, so that signals reach
# it), output to $W/NAME.log (never to the test's own output: ktap_check's
# command substitution would wait for it); its pid lands in $W/NAME.pid and
# in the list reap() kills.
spawn() {
	_name=$1
	shift
	"$PY" "$NL" "$@" >"$W/$_name.log" 2>&1 &
	echo $! >"$W/$_name.pid"
	echo $! >>"$W/pids"
}

pid() { cat "$W/$1.pid"; }

# Kill whatever an earlier (failed) case left running.
reap() {
	[ -f "$W/pids" ] || return 0
	for _p in $(cat "$W/pids"); do kill -TERM "$_p" 2>/dev/null; done
	sleep 0.5
	for _p in $(cat "$W/pids"); do kill -KILL "$_p" 2>/dev/null; done
	rm -f "$W/pids"
}

# wait_job NAME SECONDS: wait for a worker, SIGKILL it after SECONDS; on
# failure show its log.  Returns its exit status (124 when killed).
wait_job() {
	_p=$(pid "$1")
	_n=0
	while kill -0 "$_p" 2>/dev/null; do
		_n=$((_n + 1))
		if [ $_n -gt $(($2 * 10)) ]; then
			kill -KILL "$_p" 2>/dev/null
			wait "$_p" 2>/dev/null
			echo "$1 still running after $2 s: killed"
			sed 's/^/  | /' "$W/$1.log"
			return 124
		fi
		sleep 0.1
	done
	wait "$_p"
	_rc=$?
	if [ $_rc != 0 ]; then
		echo "$1 exited $_rc:"
		sed 's/^/  | /' "$W/$1.log"
	fi
	return $_rc
}

# note TEXT: a diagnostic shown after the case (ktap_check shows a case's
# own output only when it fails).
note() { echo "$*" >>"$W/notes"; }

# check NAME CMD...: ktap_check, then the case's notes as KTAP diagnostics.
check() {
	: >"$W/notes"
	ktap_check "$@"
	sed 's/^/# /' "$W/notes"
}

# wait_file FILE SECONDS
wait_file() {
	_n=0
	while [ ! -e "$1" ]; do
		_n=$((_n + 1))
		[ $_n -gt $(($2 * 10)) ] && { echo "no $1 after $2 s"; return 1; }
		sleep 0.1
	done
}

ktap_header
ktap_plan 10
[ -f "$HASYNC_KO" ] || { echo "# missing $HASYNC_KO"; exit 1; }

check "load the module" module_load max_channels=128

distinct_senders() {
	reap
	i=1
	for s in 16 8 64 1; do
		spawn s$i sender --channel $i --sections $s --count 300 --batch 16 --names 60 --tag "c$i-" \
			--seed $i --create --out "$W/s$i.json"
		i=$((i + 1))
	done
	rc=0
	for i in 1 2 3 4; do wait_job s$i 300 || rc=1; done
	[ $rc = 0 ] || return 1
	for i in 1 2 3 4; do
		nl verify --channel $i --register 300 "$W/s$i.json" || return 1
	done
}
check "4 senders on distinct channels: every update ACKed, registers and digests exact" distinct_senders

racers() {
	reap
	nl channel-new --id 10 --sections 16 || return 1
	spawn lis listen --group acks --ready "$W/lis.ready" --out "$W/lis.json" --seconds 600
	wait_file "$W/lis.ready" 60 || return 1
	for r in 0 1 2; do
		spawn r$r racer --channel 10 --sections 16 --count 150 --tag "r$r-" --seed $((r + 20)) \
			--out "$W/r$r.json"
	done
	rc=0
	for r in 0 1 2; do wait_job r$r 300 || rc=1; done
	sleep 0.5
	kill -TERM "$(pid lis)"
	wait_job lis 30 || rc=1
	[ $rc = 0 ] || return 1
	nl verify --channel 10 --register 450 "$W/r0.json" "$W/r1.json" "$W/r2.json" || return 1
	"$PY" - "$W" >>"$W/notes" <<'EOF'
import json, sys
w = sys.argv[1]
applied = []
for r in range(3):
    o = json.load(open(f"{w}/r{r}.json"))
    applied += o["applied"]
    print(f"racer {r}: {len(o['applied'])} applied, {o['stats']}")
if sorted(applied) != list(range(1, 451)):
    sys.exit(f"applied opids are not 1..450 exactly once: {len(applied)} applied, {len(set(applied))} distinct")
lis = json.load(open(f"{w}/lis.json"))
if lis["overruns"]:
    sys.exit(f"the listener overran {lis['overruns']} times")
bad = [m for m in lis["msgs"] if m["cmd"] != "ack-ntf"]
if bad:
    sys.exit(f"not ack-ntf on the acks group: {bad[:3]}")
acks = [m for m in lis["msgs"] if m.get("channel") == 10]
fresh = [m["opid"] for m in acks if not m.get("duplicate")]
if sorted(fresh) != list(range(1, 451)):
    sys.exit(f"non-duplicate ack-ntf opids are not 1..450 exactly once: {len(fresh)} seen, "
             f"{len(set(fresh))} distinct")
swaps = sum(1 for a, b in zip(fresh, fresh[1:]) if b < a)
print(f"ack-ntf: {len(fresh)} fresh, {len(acks) - len(fresh)} duplicate, {swaps} out of opid order")
EOF
}
check "3 racers on one channel: each opid applied once, acks group carries each opid once" racers

dumps_during_updates() {
	reap
	spawn dump dumper --seconds 15 --out "$W/dump.json"
	for i in 20 21 22; do
		spawn s$i sender --channel $i --sections 32 --count 400 --batch 32 --names 80 --tag "d$i-" \
			--seed $i --create --out "$W/s$i.json"
	done
	rc=0
	for i in 20 21 22; do wait_job s$i 300 || rc=1; done
	wait_job dump 120 || rc=1
	[ $rc = 0 ] || return 1
	for i in 20 21 22; do
		nl verify --channel $i --register 400 "$W/s$i.json" || return 1
	done
	note "dumper: $(cat "$W/dump.json")"
	grep -q '"dumps": [1-9]' "$W/dump.json" || { echo "no complete dump"; return 1; }
}
check "dumps running during updates complete, decode and are self-consistent" dumps_during_updates

fencing_race() {
	reap
	nl channel-new --id 30 --sections 8 || return 1
	spawn f fenced-sender --channel 30 --epoch 1 --seconds 60 --ready "$W/f.ready" --out "$W/f.json"
	wait_file "$W/f.ready" 60 || return 1
	sleep 1
	claimed=$(nl claim --channel 30 --epoch 2) || return 1
	wait_job f 120 || return 1
	v=$(nl verify --channel 30) || { echo "$v"; return 1; }
	"$PY" - "$W/f.json" "$claimed" "$v" >>"$W/notes" <<'EOF'
import json, re, sys
o = json.load(open(sys.argv[1]))
claimed = json.loads(sys.argv[2])[0]
final = int(re.search(r"register (\d+)", sys.argv[3]).group(1))
print(f"the sender had {o['applied']} applied before epoch {o['fenced_by']} fenced it; the claim saw "
      f"register {claimed['register']}, final register {final}")
if o["fenced_by"] != 2:
    sys.exit("the sender was not fenced with extack cookie = epoch 2")
if claimed["register"] != final:
    sys.exit("an update of the old owner was applied after the claim")
if o["applied"] != final:
    sys.exit("the ACKs the sender received do not add up to the register")
EOF
}
check "a claim racing a sender: the old owner is fenced at once, nothing of it applies after the claim" \
	fencing_race

replays_racing_updates() {
	reap
	nl sender --channel 40 --sections 16 --count 50 --batch 10 --names 100 --tag rp --seed 40 --create \
		--out "$W/s40.json" || return 1
	spawn rp replayer --channel 40 --seconds 10 --out "$W/rp.json"
	for i in 41 42; do
		spawn s$i sender --channel $i --sections 8 --count 300 --batch 8 --names 40 --tag "u$i-" \
			--seed $i --create --out "$W/s$i.json"
	done
	spawn dump2 dumper --seconds 8 --out "$W/dump2.json"
	rc=0
	for j in s41 s42 dump2 rp; do wait_job $j 300 || rc=1; done
	[ $rc = 0 ] || return 1
	for i in 41 42; do
		nl verify --channel $i --register 300 "$W/s$i.json" || return 1
	done
	reg=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["register"])' "$W/rp.json")
	nl verify --channel 40 --register "$reg" "$W/rp.json" || return 1
	note "replay endings: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ends"])' "$W/rp.json")"
}
check "replays (commit, abort, socket close) racing updates and dumps on other channels" \
	replays_racing_updates

unload_under_load() {
	reap
	rm -f "$W"/*.ready
	spawn l listen --group acks --ready "$W/l.ready" --out "$W/l2.json" --seconds 600
	spawn m listen --group monitor --ready "$W/m.ready" --out "$W/m2.json" --seconds 600
	spawn h hold-replay --channel 1 --ready "$W/h.ready"
	for i in 50 51 52 53; do
		dump=
		[ $i -ge 52 ] && dump=--dump
		spawn h$i hammer --channel $i --seconds 300 --seed $i $dump --ready "$W/h$i.ready"
	done
	for f in l m h h50 h51 h52 h53; do wait_file "$W/$f.ready" 60 || return 1; done
	sleep 1
	unloaded=0
	tries=0
	while [ $tries -lt 50 ]; do
		tries=$((tries + 1))
		if out=$(rmmod hasync 2>&1); then
			unloaded=1
			break
		fi
		case "$out" in
		*"in use"* | *[Bb]usy* | *"temporarily unavailable"*) ;;
		*) echo "rmmod failed unexpectedly: $out"; return 1 ;;
		esac
		module_loaded || { echo "rmmod failed but the module is gone: $out"; return 1; }
		sleep 0.2
	done
	if [ $unloaded = 1 ]; then
		note "rmmod under load succeeded after $tries attempt(s)"
	else
		note "rmmod under load: busy for $tries attempts; stopping the load"
	fi
	rc=0
	if [ $unloaded = 1 ]; then
		# the load generators see the family vanish and stop by themselves
		for i in 50 51 52 53; do wait_job h$i 120 || rc=1; done
	else
		for i in 50 51 52 53; do kill -TERM "$(pid h$i)"; done
		for i in 50 51 52 53; do wait_job h$i 120 || rc=1; done
		out=$(rmmod hasync 2>&1) || { echo "rmmod after the load stopped: $out"; return 1; }
	fi
	module_loaded && { echo "module still loaded"; return 1; }
	family_registered && { echo "family still registered"; return 1; }
	# sockets that outlive the module: two listeners, one holding a replay
	kill -TERM "$(pid l)" "$(pid m)" "$(pid h)"
	for j in l m h; do wait_job $j 30 || rc=1; done
	return $rc
}
check "rmmod while senders, dumpers, listeners and an open replay run: clean success or EBUSY" \
	unload_under_load

reload_works() {
	reap
	module_load max_channels=128 || return 1
	nl channel-new --id 1 --sections 8 || return 1
	ack=$(nl update --channel 1 --opid 1 --set eth0 lo) || return 1
	case "$ack" in
	*'"opid": 1'*) ;;
	*) echo "ACK: $ack"; return 1 ;;
	esac
	nl verify --channel 1 --register 1
}
check "the module loads again afterwards and works" reload_works

check "unload at the end" module_unload
check "no module left loaded" sh -c '! test -d /sys/module/hasync'

ktap_finished
