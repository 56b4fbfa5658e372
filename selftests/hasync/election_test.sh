#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Three control units in three TIPC nodes over the real hasync.ko: a primary
# and two hot standbys, a stream of changes from a standby's node, and the
# primary killed round after round.  After each kill the two standbys elect
# exactly one new primary (neither races the other to the kernel), the
# other rebases its stream onto the winner's (no fresh bulk sync) and is hot
# again, every confirmed change is present (cluster_check.py), and the
# killed unit rejoins as a hot standby.
# Then the primary is cut off from both standbys while it keeps running and
# a client on its own node keeps sending (hasyncd-fault's SIGUSR1 cut: TIPC
# between namespaces of one kernel would carry the data past a downed veth
# until the link resets): it confirms alone until the standbys' elected
# winner claims, its next write is fenced, it steps down, and after the heal
# it rejoins hot; nothing it confirmed is lost.
# HASYNC_ELECTION_ROUNDS sets the kill rounds (default 1: the cut round elects
# too, and make check has 45 minutes; make check-long:
# 30), HASYNC_CUT_ROUNDS the cut rounds (default 1; check-long: 10).
. "$(dirname "$0")/lib.sh"
CL_NODES=3
. "$(dirname "$0")/cluster.sh"

ROUNDS=${HASYNC_ELECTION_ROUNDS:-1}
CUTS=${HASYNC_CUT_ROUNDS:-1}

ktap_header
ktap_plan $((2 + ROUNDS + CUTS))
require || exit 1
for f in "$HASYNCD" "$HASYNC_LOAD"; do
	[ -x "$f" ] || { echo "missing $f (make userspace)" >&2; exit 1; }
done
trap cl_cleanup EXIT

setup() { module_load && "$NETNS" up 3; }
ktap_check "module loaded, three TIPC nodes" setup

trio() {
	for n in 1 2 3; do cl_conf "$n" both; done
	cl_start 1 primary
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	cl_start 2 standby
	cl_start 3 standby
	cl_wait_hot 2 90 && cl_wait_hot 3 90
}
ktap_check_out "a primary and two hot standbys" trio

# lines N: the length of node N's log, to look at what a round added.
lines() { wc -l <"$CL/n$1.log"; }
since() { tail -n "+$(($2 + 1))" "$CL/n$1.log"; }

# new_primary A B: which of nodes A and B is primary, within 60 s.
new_primary() {
	_deadline=$(($(date +%s) + 60))
	while [ "$(date +%s)" -lt "$_deadline" ]; do
		for _n in "$1" "$2"; do
			[ "$(cl_field "$_n" "s['role']")" = primary ] && { echo "$_n"; return 0; }
		done
		sleep 0.2
	done
	return 1
}

# The primary now (a round runs in a subshell: nothing it sets survives).
primary_now() {
	for n in 1 2 3; do
		[ "$(cl_field "$n" "s['role']")" = primary ] && { echo "$n"; return 0; }
	done
	echo 1
}

k=1
while [ "$k" -le "$ROUNDS" ]; do
	p=$(primary_now)
	a=$((p % 3 + 1))
	b=$((a % 3 + 1))
	round() {
		la=$(lines "$a")
		lb=$(lines "$b")
		cl_load_start "$a"
		sleep "0.$(cl_rand 9)$(cl_rand 9)"
		cl_kill "$p"
		# Exactly one of the two takes over; the other follows it.
		w=$(new_primary "$a" "$b") || { echo "# no new primary within 60 s"; return 1; }
		if [ "$w" = "$a" ]; then l=$b; lw=$la; ll=$lb; else l=$a; lw=$lb; ll=$la; fi
		echo "# $(date +%T) node $w elected; node $l follows"
		cl_wait "$w" "s['role']=='primary' and s.get('last_takeover') and s['last_takeover']['total_ms']>0" 60 || return 1
		cl_wait_hot "$l" 90 || return 1
		echo "# $(date +%T) node $l hot again"
		[ "$(cl_field "$l" "s['role']")" = standby ] || return 1
		since "$w" "$lw" | grep -q 'elected: taking over' ||
			{ echo "# node $w took over without an election"; return 1; }
		since "$l" "$ll" | grep -q 'elected another standby' ||
			{ echo "# node $l did not learn the outcome from the election"; return 1; }
		if since "$l" "$ll" | grep -q 'claiming every channel'; then
			echo "# node $l claimed too: two units raced to the kernel"
			return 1
		fi
		# It kept its stream: rebased onto the winner's, no fresh sync.
		since "$l" "$ll" | grep "rebased onto the elected primary" | sed 's/^.*INFO /# /' | grep . ||
			{ echo "# node $l did not rebase onto the winner's stream"; return 1; }
		if since "$l" "$ll" | grep -q 'syncing afresh'; then
			echo "# node $l synced afresh instead of rebasing"
			return 1
		fi
		cl_load_stop
		# With the stream stopped, everything in flight is released.
		cl_wait "$w" "s['pending']==0" 30 || return 1
		echo "# $(date +%T) stream stopped, nothing pending"
		cl_check "$w" || return 1
		cl_start "$p" standby
		cl_wait_hot "$p" 90 || return 1
		echo "# $(date +%T) node $p rejoined hot"
	}
	ktap_check_out "round $k: kill node $p, the others elect one primary" round
	k=$((k + 1))
done

k=1
while [ "$k" -le "$CUTS" ]; do
	p=$(primary_now)
	a=$((p % 3 + 1))
	b=$((a % 3 + 1))
	cut_round() {
		lp=$(lines "$p")
		cl_load_start "$p"
		sleep "1.$(cl_rand 9)"
		kill -USR1 "$(cl_pid "$p")" || return 1
		echo "# $(date +%T) node $p cut off"
		w=$(new_primary "$a" "$b") || { echo "# no new primary within 60 s"; return 1; }
		if [ "$w" = "$a" ]; then l=$b; else l=$a; fi
		echo "# $(date +%T) node $w elected"
		cl_wait "$w" "s['role']=='primary' and s.get('last_takeover') and s['last_takeover']['epoch']==s['epoch']" 30 || return 1
		# The cut-off primary's client keeps writing: the kernel fences it.
		cl_wait "$p" "s['role']=='standby'" 30 || return 1
		since "$p" "$lp" | grep -q 'fenced by a newer primary' ||
			{ echo "# node $p stepped down for another reason"; return 1; }
		echo "# $(date +%T) node $p fenced, stepped down"
		[ "$(cl_field "$l" "s['role']")" = standby ] ||
			{ echo "# node $l is $(cl_field "$l" "s['role']") too"; return 1; }
		kill -USR1 "$(cl_pid "$p")" || return 1
		echo "# $(date +%T) cut healed"
		cl_wait_hot "$p" 90 || return 1
		cl_wait_hot "$l" 90 || return 1
		cl_load_stop
		cl_wait "$w" "s['pending']==0 and s['last_takeover']['total_ms']>0" 30 || return 1
		echo "# takeover: $(cl_field "$w" "'%d sections learned or replayed over %d channels' % (sum(bin(c['replayed_sections']).count('1') for c in s['last_takeover']['channels']), len(s['last_takeover']['channels']))")"
		cl_check "$w" --partition
	}
	ktap_check_out "cut $k: node $p cut off under load, fenced, rejoins; nothing it confirmed lost" cut_round
	k=$((k + 1))
done
ktap_finished
