#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# End to end: hasyncd primary and standby in two TIPC nodes (network
# namespaces) over the real hasync.ko, a steady stream of changes from
# hasync-load, and the primary killed over and over:
#  - at each fault-injection point, with each ACK path;
#  - at random moments (HASYNC_KILLS, default 20; make check-long: 300);
#  - by node loss (its link cut, then the process) and by a partition where
#    the old primary keeps running and the kernel fences its writes;
#  - malformed frames at both daemons; a planned switchover.
# After every takeover, with the stream stopped: the kernel's tables are the
# new primary's, every confirmed change is present, registers agree, and
# only channels with requests in flight were replayed (cluster_check.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

KILLS=${HASYNC_KILLS:-20}
POINTS="after-kernel-send after-standby-send before-ack-forward mid-bulk-sync mid-replay"
PATHS="forward direct both"

cl_begin $((4 + 15 + KILLS + 4 + 4 + 2 + 1))

# (Re)start a primary on node 1 and a hot standby on node 2.
pair() { # ACK_PATH [FAULT1] [FAULT2]
	cl_kill 1
	cl_kill 2
	cl_conf 1 "$1"
	cl_conf 2 "$1"
	cl_start 1 primary "${2:-}"
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	cl_start 2 standby "${3:-}"
	cl_wait_hot 2 60
}

ktap_check "primary and hot standby" pair both

# Both daemons applied link_tolerance_ms to their bearers, and through
# them to the links that were already up.
tolerance_applied() {
	for n in 1 2; do
		bearers=$(in_ns "$n" tipc bearer list) || return 1
		[ -n "$bearers" ] || { echo "# node $n: no bearers"; return 1; }
		for b in $bearers; do
			t=$(in_ns "$n" tipc bearer get tolerance media eth device "${b#eth:}") || return 1
			echo "# node $n: bearer $b tolerance $t"
			[ "$t" = "$CL_TOL" ] || return 1
		done
		links=$(in_ns "$n" tipc link list | grep -v '^broadcast-link' | sed -n 's/: up$//p')
		[ -n "$links" ] || { echo "# node $n: no link up"; return 1; }
		for l in $links; do
			t=$(in_ns "$n" tipc link get tolerance link "$l") || return 1
			echo "# node $n: link $l tolerance $t"
			[ "$t" = "$CL_TOL" ] || return 1
		done
		grep -q 'TIPC link tolerance set' "$CL/n$n.log" || {
			echo "# node $n: the daemon did not log setting it"
			return 1
		}
	done
}
ktap_check_out "daemons set the TIPC link tolerance to $CL_TOL ms" tolerance_applied

basics() {
	in_ns 2 "$HASYNC_BIN" iface set dev e2e0 mtu 1400 up addr 10.9.0.1/24 channel 2 || return 1
	hasync -j iface show dev e2e0 | grep -q '"mtu":1400' || return 1
	# Refusals name the problem and change nothing.
	out=$(in_ns 1 "$HASYNC_BIN" iface set dev e2e0 mtu 10 2>&1) && return 1
	echo "$out" | grep -qi 'invalid' || { echo "$out"; return 1; }
	out=$(in_ns 1 "$HASYNC_BIN" iface set dev e2e0 channel 99 2>&1) && return 1
	echo "$out" | grep -q 'channel 99' || { echo "$out"; return 1; }
	hasync -j iface show dev e2e0 | grep -q '"mtu":1400' || return 1
	cl_wait 2 "[c for c in s['channels'] if c['id']==2][0]['records']>=1" 10
}
ktap_check "changes through the primary, refusals with a reason" basics

# --- each fault point, each ACK path ---------------------------------------
fault_case() { # POINT PATH
	point=$1
	path=$2
	f1=
	f2=
	n=$((5 + $(cl_rand 30)))
	case $point in
	mid-replay) f1="after-kernel-send@$n" f2="mid-replay" ;;
	mid-bulk-sync) f1="mid-bulk-sync@2" ;;
	*) f1="$point@$n" ;;
	esac
	cl_kill 1
	cl_kill 2
	cl_conf 1 "$path"
	cl_conf 2 "$path"
	cl_start 1 primary "$f1"
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	if [ "$point" = mid-bulk-sync ]; then
		# The primary dies while the standby is still being synced.
		cl_load_start 1
		sleep 1
		cl_start 2 standby
	else
		cl_start 2 standby "$f2"
		cl_wait_hot 2 60 || return 1
		cl_load_start 1
	fi
	cl_wait_dead 1 60 || { echo "# fault $f1 never hit"; return 1; }
	if [ "$point" = mid-replay ]; then
		# The new primary dies during its replay; the old one restarts and,
		# finding nobody, relearns the kernel's tables.
		cl_wait_dead 2 30 || { echo "# mid-replay never hit"; return 1; }
		cl_start 1 auto
		cl_wait_primary 1 60 || return 1
		p=1
	else
		cl_wait_primary 2 60 || return 1
		p=2
	fi
	cl_load_stop
	cl_check "$p"
}

for point in $POINTS; do
	for path in $PATHS; do
		ktap_check_out "kill at $point, ack path $path" fault_case "$point" "$path"
	done
done

# --- random kills ----------------------------------------------------------
cl_kill 1
cl_kill 2
ktap_diag "random kills: $KILLS"
pair both >/dev/null 2>&1 || pair both
p=1
s=2
k=1
while [ "$k" -le "$KILLS" ]; do
	random_kill() {
		cl_load_start 1
		cl_load_flowing || return 1
		sleep "0.$(cl_rand 9)$(cl_rand 9)"
		cl_kill "$p"
		cl_wait_primary "$s" 60 || return 1
		cl_load_stop
		cl_check "$s" || return 1
		cl_start "$p" auto
		cl_wait_hot "$p" 60
	}
	ktap_check_out "random kill $k (node $p)" random_kill
	t=$p
	p=$s
	s=$t
	k=$((k + 1))
done

# --- node loss and partition -------------------------------------------------
dev12=$("$NETNS" dev 1 2)
dev21=$("$NETNS" dev 2 1)

# node_loss LOAD: the primary's node falls silent: every frame it sends is
# dropped, carriers stay up, and then its daemon dies; no withdrawal reaches
# the standby, only TIPC's link supervision can tell.  TIPC resets the
# connection when the link fails but withdraws the name later; the standby
# must still take over.  With LOAD, a stream runs from the standby's node.
node_loss() {
	pair both >/dev/null || return 1
	[ "$1" = idle ] || cl_load_start 2
	sleep 1
	tc -n hasync-n1 qdisc add dev "$dev12" root netem loss 100% || return 1
	cl_kill 1
	cl_wait_primary 2 30 || return 1
	ktap_diag "node loss ($1): $(cl_field 2 "'gone %.0f ms after the loss was noticed, takeover %.1f ms' % (s['last_takeover']['detection_ms'], s['last_takeover']['total_ms'])") (link tolerance $CL_TOL ms)"
	[ "$(cl_field 2 "s['last_takeover']['reason']")" = "primary lost" ] || return 1
	[ "$1" = idle ] && return 0
	cl_load_stop
	cl_check 2
}

rejoin() {
	tc -n hasync-n1 qdisc del dev "$dev12" root || return 1
	"$NETNS" wait 2 || return 1
	cl_start 1 auto
	cl_wait_hot 1 60
}

for what in idle load; do
	ktap_check_out "node loss ($what): standby takes over after the link tolerance" node_loss "$what"
	ktap_check "node back ($what): rejoins as hot standby" rejoin
done

# Partition: node 2 (primary now) keeps running cut off from node 1, which
# takes over; node 2's next write is fenced by the kernel.
partition() {
	in_ns 2 ip link set "$dev21" down
	cl_wait_primary 1 30 || return 1
	out=$(in_ns 2 "$HASYNC_BIN" iface set dev fenced0 mtu 1300 2>&1) && {
		echo "# write on the old primary was confirmed: $out"
		return 1
	}
	echo "# old primary refused: $out"
	# Refused because the kernel fenced it, not for some other reason.
	echo "$out" | grep -qi 'deposed\|fenced' || return 1
	hasync -j iface show dev fenced0 2>/dev/null | grep -q fenced0 && return 1
	return 0
}
ktap_check_out "partition: the old primary's writes are fenced" partition
ktap_check "partition: the old primary stepped down" \
	cl_wait 2 "s['role']=='standby'" 20
heal() {
	in_ns 2 ip link set "$dev21" up
	"$NETNS" wait 2 || return 1
	cl_wait_hot 2 60 || return 1
	cl_check 1
}
ktap_check_out "partition healed: old primary rejoins, state intact" heal

# Partition under load: node 1 (primary) is cut off while a client on its
# own node keeps sending. Until node 2's claim fences it, node 1 confirms
# with the kernel's ACK alone: changes no standby ever saw, that the new
# primary must learn from the kernel rather than overwrite. After the
# heal, every change confirmed on either side is present.
partition_load() {
	cl_load_start 1
	sleep "1.$(cl_rand 9)"
	l2=$(wc -l <"$CL/n2.log")
	in_ns 1 ip link set "$dev12" down
	# The takeover itself, then the stepping down; the replay's end is
	# waited for below, with the stream stopped.
	cl_wait 2 "s['role']=='primary' and s.get('last_takeover') and s['last_takeover']['epoch']==s['epoch']" 30 || return 1
	cl_wait 1 "s['role']=='standby'" 30 || return 1
	echo "# takeover: $(cl_field 2 "'%d sections replayed over %d channels' % (sum(bin(c['replayed_sections']).count('1') for c in s['last_takeover']['channels']), len(s['last_takeover']['channels']))")"
	in_ns 1 ip link set "$dev12" up
	"$NETNS" wait 2 || return 1
	cl_wait_hot 1 60 || return 1
	cl_load_stop
	if ! cl_wait 2 "s['pending']==0 and s['last_takeover']['total_ms']>0" 30; then
		tail -n "+$((l2 + 1))" "$CL/n2.log" | grep -v malformed | head -n 60 | sed 's/^/# n2: /'
		return 1
	fi
	cl_check 2 --partition || return 1
	# Back to node 1 as primary for the cases below.
	in_ns 1 "$HASYNC_BIN" switchover || return 1
	cl_wait 1 "s['role']=='primary' and s['last_takeover']['reason']=='switchover'" 30 || return 1
	cl_wait_hot 2 60
}
ktap_check_out "partition under load: nothing the cut-off primary confirmed is lost" partition_load

# --- malformed frames ----------------------------------------------------------
garbage() {
	python3 "$SELFTEST_DIR/tipc_garbage.py" "$@"
}
malformed() {
	before=$(hasync -j channel show)
	# At the primary's replication and control services and at both
	# daemons' local status service.
	in_ns 2 python3 "$SELFTEST_DIR/tipc_garbage.py" 18888 || return 1
	in_ns 2 python3 "$SELFTEST_DIR/tipc_garbage.py" 18889 || return 1
	in_ns 1 python3 "$SELFTEST_DIR/tipc_garbage.py" 18890 || return 1
	in_ns 2 python3 "$SELFTEST_DIR/tipc_garbage.py" 18890 || return 1
	cl_alive 1 && cl_alive 2 || return 1
	[ "$(hasync -j channel show)" = "$before" ] || return 1
	cl_wait_hot 2 10 && cl_wait 1 "s['role']=='primary'" 10
}
ktap_check_out "malformed frames: refused, daemons alive, state intact" malformed
ktap_check "still replicating after malformed frames" \
	in_ns 2 "$HASYNC_BIN" iface set dev after0 mtu 1500 channel 1

# --- planned switchover ----------------------------------------------------------
switchover() {
	in_ns 2 "$HASYNC_BIN" switchover || return 1
	cl_wait 2 "s['role']=='primary' and s['last_takeover']['reason']=='switchover'" 30 || return 1
	cl_check 2 || return 1
	n=$(cl_field 2 "sum(1 for c in s['last_takeover']['channels'] if c['replayed_ops'] or c['replayed_sections'])")
	[ "$n" = 0 ] || { echo "# switchover replayed $n channels"; return 1; }
	cl_wait_hot 1 60
}
ktap_check_out "switchover: no replay, old primary follows" switchover

ktap_finished
