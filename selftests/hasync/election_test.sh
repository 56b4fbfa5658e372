#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Three control units in three TIPC nodes over the real hasync.ko: a primary,
# two hot standbys, a stream of changes, and random fault schedules, one
# after another (HASYNC_SCHEDULES, default 30; make check-long: 300):
#  - kill:     the primary is SIGKILLed. The two standbys elect exactly one
#              new primary (neither races the other to the kernel), the
#              other rebases its stream onto the winner's (no fresh bulk
#              sync); the killed unit rejoins hot.
#  - cut:      the primary is cut off from both standbys while it keeps
#              running and a client on its own node keeps sending
#              (hasyncd-fault's SIGUSR1 cut: TIPC between namespaces of one
#              kernel would carry the data past a downed veth until the
#              link resets). It confirms alone until the elected winner
#              claims, its next write is fenced, it steps down, and after
#              the heal it rejoins hot; nothing it confirmed is lost.
#  - standby:  a standby is SIGKILLed: the primary keeps confirming with the
#              other one, no takeover happens, the killed unit rejoins hot.
#  - syncing:  a standby is restarted and the primary killed while that
#              standby may still be syncing: one primary is elected and the
#              other unit ends hot.
# After each schedule, with the stream stopped: exactly one primary, both
# others hot with the primary's digests, and every confirmed change present
# (cluster_check.py).
. "$(dirname "$0")/lib.sh"
CL_NODES=3
. "$(dirname "$0")/cluster.sh"

SCHEDULES=${HASYNC_SCHEDULES:-24}
KINDS="kill cut standby syncing"

cl_begin $((2 + SCHEDULES))

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
			[ "$(cl_role "$_n")" = primary ] && { echo "$_n"; return 0; }
		done
		sleep 0.2
	done
	return 1
}

# The primary now (a round runs in a subshell: nothing it sets survives).
primary_now() {
	for n in 1 2 3; do
		[ "$(cl_role "$n")" = primary ] && { echo "$n"; return 0; }
	done
	echo 1
}

# same_tables W L: node L holds what primary W holds (digests per channel).
same_tables() {
	_d=$(cl_field "$1" "sorted((c['id'], c['digests']) for c in s['channels'])") || return 1
	cl_wait "$2" "sorted((c['id'], c['digests']) for c in s['channels'])==$_d" 20
}

# settle W L1 L2: the stream stopped, W primary with nothing pending, L1 and
# L2 hot with its tables, every confirmed change present.
settle() {
	_w=$1
	shift
	cl_load_stop
	cl_wait "$_w" "s['role']=='primary' and s['pending']==0" 30 || return 1
	for _l in "$@"; do
		cl_wait_hot "$_l" 90 || return 1
		same_tables "$_w" "$_l" || return 1
	done
	cl_check "$_w" ${CHECK_FLAGS:-}
}

# kill P A B: kill primary P under a stream from A's node.
kill_primary() {
	la=$(lines "$2")
	lb=$(lines "$3")
	cl_load_start "$2"
	cl_load_flowing || return 1
	if [ -n "${SYNCING:-}" ]; then sleep "0.0$(cl_rand 9)"; else sleep "0.$(cl_rand 9)$(cl_rand 9)"; fi
	cl_kill "$1"
	w=$(new_primary "$2" "$3") || { echo "# no new primary within 60 s"; return 1; }
	if [ "$w" = "$2" ]; then l=$3; lw=$la; ll=$lb; else l=$2; lw=$lb; ll=$la; fi
	echo "# node $w elected; node $l follows"
	cl_wait "$w" "s['role']=='primary' and s.get('last_takeover') and s['last_takeover']['total_ms']>0" 60 || return 1
	cl_wait_hot "$l" 90 || return 1
	if since "$l" "$ll" | grep -q 'claiming every channel'; then
		echo "# node $l claimed too: two units raced to the kernel"
		return 1
	fi
	if [ -z "${SYNCING:-}" ]; then
		since "$w" "$lw" | grep -q 'elected: taking over' ||
			{ echo "# node $w took over without an election"; return 1; }
		since "$l" "$ll" | grep -q 'elected another standby' ||
			{ echo "# node $l did not learn the outcome from the election"; return 1; }
		# It kept its stream: rebased onto the winner's, no fresh sync.
		since "$l" "$ll" | grep "rebased onto the elected primary" | sed 's/^.*INFO /# /' | grep . ||
			{ echo "# node $l did not rebase onto the winner's stream"; return 1; }
		if since "$l" "$ll" | grep -q 'syncing afresh'; then
			echo "# node $l synced afresh instead of rebasing"
			return 1
		fi
	fi
	settle "$w" "$l" || return 1
	cl_start "$1" standby
	cl_wait_hot "$1" 90 && same_tables "$w" "$1"
}

# cut P A B: cut primary P off under a stream from its own node.
cut_primary() {
	lp=$(lines "$1")
	cl_load_start "$1"
	cl_load_flowing || return 1
	sleep "1.$(cl_rand 9)"
	kill -USR1 "$(cl_pid "$1")" || return 1
	w=$(new_primary "$2" "$3") || { echo "# no new primary within 60 s"; return 1; }
	if [ "$w" = "$2" ]; then l=$3; else l=$2; fi
	echo "# node $w elected"
	cl_wait "$w" "s['role']=='primary' and s.get('last_takeover') and s['last_takeover']['epoch']==s['epoch']" 30 || return 1
	# The cut-off primary's client keeps writing: the kernel fences it.
	cl_wait "$1" "s['role']=='standby'" 30 || return 1
	since "$1" "$lp" | grep -q 'fenced by a newer primary' ||
		{ echo "# node $1 stepped down for another reason"; return 1; }
	[ "$(cl_role "$l")" = standby ] || { echo "# node $l is $(cl_role "$l") too"; return 1; }
	kill -USR1 "$(cl_pid "$1")" || return 1
	CHECK_FLAGS=--partition settle "$w" "$1" "$l" || return 1
	echo "# takeover: $(cl_field "$w" "'%d sections learned or replayed over %d channels' % (sum(bin(c['replayed_sections']).count('1') for c in s['last_takeover']['channels']), len(s['last_takeover']['channels']))")"
}

# standby P A B: kill standby A under a stream from P's node.
kill_standby() {
	e=$(cl_field "$1" "s['epoch']") || return 1
	cl_load_start "$1"
	cl_load_flowing || return 1
	sleep "0.$(cl_rand 9)$(cl_rand 9)"
	cl_kill "$2"
	sleep "0.$(cl_rand 9)"
	cl_start "$2" standby
	CHECK_FLAGS=--no-takeover settle "$1" "$2" "$3" || return 1
	[ "$(cl_field "$1" "s['epoch']")" = "$e" ] || { echo "# the primary changed epochs"; return 1; }
}

# syncing P A B: restart standby A, kill primary P while A may still sync.
kill_syncing() {
	cl_kill "$2"
	cl_start "$2" standby
	sleep "0.$(cl_rand 5)"
	SYNCING=1 kill_primary "$1" "$3" "$2"
}

k=1
while [ "$k" -le "$SCHEDULES" ]; do
	p=$(primary_now)
	a=$((p % 3 + 1))
	b=$((a % 3 + 1))
	kind=$(echo $KINDS | cut -d' ' -f$(($(cl_rand 4) + 1)))
	case $kind in
	kill) what="kill primary node $p: one of $a, $b elected, the other rebases" ;;
	cut) what="cut primary node $p off under load: fenced, rejoins, nothing it confirmed lost" ;;
	standby) what="kill standby node $a: no takeover, it rejoins hot" ;;
	syncing) what="kill primary node $p while node $a syncs: one primary, all hot" ;;
	esac
	ktap_check_out "schedule $k ($kind): $what" "$(echo "$kind" | sed "s/^kill$/kill_primary/; s/^cut$/cut_primary/; s/^standby$/kill_standby/; s/^syncing$/kill_syncing/")" "$p" "$a" "$b"
	k=$((k + 1))
done
ktap_finished
