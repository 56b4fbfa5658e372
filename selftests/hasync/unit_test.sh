#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# hasyncd under its systemd unit's own lines: ExecStartPre, ExecStart and
# ExecReload are read from hasyncd@.service.in and run as systemd would
# (NOTIFY_SOCKET, WATCHDOG_USEC, $MAINPID), with this test playing the
# service manager's socket. A primary is READY once it serves; a standby
# only once it is hot; the watchdog is fed; a reload applies log_level
# and refuses a changed node name with nothing changed; a stop says so.
. "$(dirname "$0")/lib.sh"
CL_CHANNELS="1:8 2:4"
. "$(dirname "$0")/cluster.sh"

UNIT=$TOP/userspace/hasyncd/systemd/hasyncd@.service.in
SBIN=$TOP/userspace/target/release

cl_begin 9
unit_cleanup() {
	for n in 1 2; do [ ! -f "$CL/listen$n.pid" ] || kill "$(cat "$CL/listen$n.pid")" 2>/dev/null; done
	cl_cleanup
}
trap unit_cleanup EXIT

# unit_line KEY N: the unit's KEY= line for instance nN, its paths made
# this test's: @SBINDIR@ the build, /etc/hasync the test's directory.
unit_line() {
	grep "^$1=" "$UNIT" | sed "s/^$1=//; s|@SBINDIR@|$SBIN|g; s|/etc/hasync|$CL|g; s|%i|n$2|g"
}

# notified N PATTERN [TIMEOUT]: node N's manager socket got a line
# matching PATTERN (grep -E).
notified() {
	_t=$(( ${3:-30} * 10 ))
	while [ "$_t" -gt 0 ]; do
		grep -Eq "$2" "$CL/notify$1.out" 2>/dev/null && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	echo "# node $1's manager socket never got /$2/:" >&2
	sed 's/^/#   /' "$CL/notify$1.out" >&2
	return 1
}

# unit_start N: the manager's socket, the ExecStartPre lines, then
# ExecStart in node N's namespace with the unit's environment.
unit_start() {
	python3 "$SELFTEST_DIR/notify_listen.py" "$CL/notify$1" "$CL/notify$1.out" >/dev/null 2>&1 </dev/null &
	echo $! >"$CL/listen$1.pid"
	_t=100
	while ! grep -q listening "$CL/notify$1.out" 2>/dev/null; do
		_t=$((_t - 1))
		[ "$_t" -gt 0 ] || { echo "# the notification socket never came up"; return 1; }
		sleep 0.1
	done
	unit_line ExecStartPre "$1" | while read -r line; do
		ignore=
		case $line in -*) ignore=1 line=${line#-} ;; esac
		echo "# ExecStartPre=$line"
		in_ns "$1" sh -c "$line" >/dev/null 2>&1 || [ -n "$ignore" ] || {
			echo "# failed: $line"
			return 1
		}
	done || return 1
	start=$(unit_line ExecStart "$1")
	echo "# ExecStart=$start"
	(exec ip netns exec "hasync-n$1" env NOTIFY_SOCKET="$CL/notify$1" WATCHDOG_USEC=1000000 \
		sh -c "exec $start" >>"$CL/n$1.log" 2>&1 </dev/null) &
	echo $! >"$CL/n$1.pid"
}

# unit_reload N: ExecReload with $MAINPID, as systemctl reload runs it.
unit_reload() {
	line=$(unit_line ExecReload "$1" | sed "s/\$MAINPID/$(cl_pid "$1")/")
	echo "# ExecReload=$line"
	sh -c "$line"
}

primary_ready() {
	cl_conf 1 both && cl_conf 2 both || return 1
	unit_start 1 || return 1
	notified 1 '^READY=1\|STATUS=primary' 30
}
ktap_check_out "ExecStartPre passes; the first unit is READY once it is primary" primary_ready

standby_ready_when_hot() {
	unit_start 2 || return 1
	notified 2 '^READY=1' 60 || return 1
	sed 's/^/# /' "$CL/notify2.out"
	# Not before: the line that says READY says hot, and it is the only one.
	[ "$(grep -c 'READY=1' "$CL/notify2.out")" = 1 ] &&
		grep 'READY=1' "$CL/notify2.out" | grep -q 'STATUS=standby, hot' &&
		cl_wait_hot 2 5
}
ktap_check_out "the second unit is READY only once it is a hot standby" standby_ready_when_hot

watchdog() {
	a=$(grep -c '^WATCHDOG=1$' "$CL/notify1.out")
	sleep 2
	b=$(grep -c '^WATCHDOG=1$' "$CL/notify1.out")
	echo "# watchdog pings in 2 s at WATCHDOG_USEC=1000000: $((b - a))"
	[ $((b - a)) -ge 3 ]
}
ktap_check_out "the watchdog is fed at half its period" watchdog

reload_live() {
	sed -i 's/^log_level = "info"/log_level = "debug"/' "$CL/n2.toml"
	unit_reload 2 || return 1
	notified 2 'RELOADING=1\|MONOTONIC_USEC=[0-9]+' 10 &&
		notified 2 '^READY=1\|STATUS=standby, hot.*reload: log_level applied' 10 &&
		grep -q 'reload: log_level applied' "$CL/n2.log"
}
ktap_check_out "reload: log_level changes live (RELOADING, then READY)" reload_live

reload_refused() {
	sed -i 's/^ack_path = "both"/ack_path = "forward"/' "$CL/n1.toml"
	unit_reload 1 || return 1
	notified 1 'reload refused: ack_path changed, which takes a restart' 10 &&
		grep -q 'reload refused' "$CL/n1.log" &&
		[ "$(cl_field 1 "s['role'] + ' ' + s['ack_path']")" = "primary both" ]
}
ktap_check_out "reload: a changed ack_path is refused by name, nothing changes" reload_refused

reload_bad_file() {
	echo 'bogus_key = 1' >>"$CL/n2.toml"
	unit_reload 2 || return 1
	notified 2 'reload refused: the file is refused: .*bogus_key' 10 &&
		cl_wait_hot 2 5
}
ktap_check_out "reload: a file hasyncd refuses is named, the unit keeps running" reload_bad_file

check_config_refuses() {
	! in_ns 2 sh -c "$(unit_line ExecStartPre 2 | grep check-config)" 2>"$CL/cc.err" &&
		grep -q bogus_key "$CL/cc.err"
}
ktap_check_out "ExecStartPre refuses the same file, so a restart would not start" check_config_refuses

stop() {
	kill -TERM "$(cl_pid 1)"
	notified 1 '^STOPPING=1$' 10 || return 1
	_t=100
	while cl_alive 1; do
		_t=$((_t - 1))
		[ "$_t" -gt 0 ] || { echo "# still running 10 s after STOPPING=1"; return 1; }
		sleep 0.1
	done
}
ktap_check_out "stop: STOPPING=1, and the unit exits" stop

failover_still_notified() {
	# Node 2 takes over: its status follows. It saw node 1's unit go down
	# at the debug level its reload turned on.
	notified 2 'STATUS=primary' 30 &&
		grep -q ' DEBUG .*unit down' "$CL/n2.log"
}
ktap_check_out "the standby's status line follows its takeover; its reloaded log level holds" failover_still_notified

ktap_finished
