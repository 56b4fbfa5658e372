# SPDX-License-Identifier: GPL-2.0
# Shared setup for the hasync selftests: where the module and the tools are.

SELFTEST_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$SELFTEST_DIR/../.." && pwd)
HASYNC_KO=${HASYNC_KO:-$TOP/kmod/hasync.ko}
HASYNC_BIN=${HASYNC_BIN:-$TOP/userspace/target/release/hasync}
. "$SELFTEST_DIR/ktap.sh"

hasync() { "$HASYNC_BIN" "$@"; }

module_loaded() { [ -d /sys/module/hasync ]; }

# Leave no module behind from an earlier test.
module_unload() { ! module_loaded || rmmod hasync; }

module_load() {
	module_unload || return 1
	insmod "$HASYNC_KO" "$@"
}

# nstat_of NS COUNTER: a counter of network namespace NS.
nstat_of() { ip netns exec "$1" nstat -asz "$2" | awk -v k="$2" '$1==k {print $2}'; }

# The genetlink controller's view: is the family registered?
family_registered() { genl ctrl get name hasync >/dev/null 2>&1; }

require() {
	for _f in "$HASYNC_KO" "$HASYNC_BIN"; do
		if [ ! -e "$_f" ]; then
			echo "missing $_f (run 'make module userspace' on the host)" >&2
			return 1
		fi
	done
}
