#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The info command: the CLI and the kernel's own YNL client read the module's
# version, limits and counts.
. "$(dirname "$0")/lib.sh"

ktap_header
ktap_plan 6
require || exit 1
module_load max_channels=7 max_entries=100 cookie_log_len=33 || exit 1

# The version the module's source declares.
version=$(sed -n 's/^pub(crate) const VERSION: &str = "\(.*\)";$/\1/p' "$TOP/kmod/hasync_main.rs")
ktap_check "text output names version $version and protocol 1" \
	sh -c "\"$HASYNC_BIN\" info | grep -qx 'hasync $version proto 1'"

json_reports_params() {
	out=$(hasync -j info) || return 1
	for want in '"max_channels":7' '"max_entries":100' '"cookie_log_len":33' \
		'"max_sections":64' '"channels":0' '"entries":0' '"proto_version":1'; do
		case "$out" in
		*"$want"*) ;;
		*) echo "missing $want in: $out"; return 1 ;;
		esac
	done
}
ktap_check "JSON output reports the load-time parameters" json_reports_params

ynl_cli_info() {
	ynl=$HASYNC_KDIR/tools/net/ynl
	out=$(/usr/bin/python3 "$ynl/cli.py" --spec "$TOP/hasync.yaml" \
		--schema "$HASYNC_KDIR/Documentation/netlink/genetlink.yaml" --do info) || return 1
	echo "$out" | grep -q "'max-channels': 7" || { echo "$out"; return 1; }
	echo "$out" | grep -q "'cookie-log-len': 33" || { echo "$out"; return 1; }
}
ktap_check "the kernel's ynl cli.py reads info from our spec" ynl_cli_info

bad_word() {
	out=$(hasync frobnicate 2>&1)
	rc=$?
	[ $rc -eq 2 ] || { echo "exit $rc: $out"; return 1; }
	echo "$out" | grep -q frobnicate || { echo "error does not name the word: $out"; return 1; }
}
ktap_check "an unknown object is refused, exit 2, named" bad_word

module_unload
no_module() {
	out=$(hasync info 2>&1) && { echo "succeeded: $out"; return 1; }
	echo "$out" | grep -q "is hasync.ko loaded?" || { echo "$out"; return 1; }
}
ktap_check "without the module: exit 1 and a hint" no_module
ktap_check "no module left loaded" sh -c '! test -d /sys/module/hasync'

ktap_finished
