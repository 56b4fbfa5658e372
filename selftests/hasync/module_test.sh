#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Loading and unloading hasync.ko: parameters, family registration, bad
# parameters refused, unload while requests are in flight.
. "$(dirname "$0")/lib.sh"

ktap_header
ktap_plan 9
require || exit 1

ktap_check "load with default parameters" module_load
ktap_check "family registered with the genetlink controller" family_registered
ktap_check "default max_channels is 256" \
	test "$(cat /sys/module/hasync/parameters/max_channels)" = 256
ktap_check "unload" module_unload
ktap_check "family gone after unload" sh -c '! genl ctrl get name hasync'

bad_param() {
	dmesg -C
	if insmod "$HASYNC_KO" "$1"; then
		echo "insmod $1 succeeded"
		rmmod hasync
		return 1
	fi
	module_loaded && { echo "module present after failed insmod"; return 1; }
	dmesg | grep -q "parameter ${1%%=*}=" || { echo "dmesg does not name ${1%%=*}:"; dmesg | tail -5; return 1; }
}
ktap_check "max_channels=0 refused, named in the log" bad_param max_channels=0
ktap_check "cookie_log_len=70000 refused, named in the log" bad_param cookie_log_len=70000

cycles() {
	i=0
	while [ $i -lt 10 ]; do
		module_load || return 1
		hasync info >/dev/null || return 1
		module_unload || return 1
		i=$((i + 1))
	done
}
ktap_check "ten load / info / unload cycles" cycles

# Requests racing the unload must end in a clean error, not a crash: the
# kernel log is checked for splats by the VM runner.
unload_under_load() {
	module_load || return 1
	( while hasync info >/dev/null 2>&1; do :; done ) &
	loop=$!
	sleep 1
	module_unload || { kill $loop; return 1; }
	wait $loop
	family_registered && { echo "family still registered"; return 1; }
	out=$(hasync info 2>&1) && { echo "info succeeded without the module"; return 1; }
	case "$out" in
	*"is hasync.ko loaded?"*) ;;
	*) echo "unexpected error: $out"; return 1 ;;
	esac
}
ktap_check "unload while info requests are in flight" unload_under_load

ktap_finished
