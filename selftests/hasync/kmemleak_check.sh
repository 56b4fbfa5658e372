#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run last on kmemleak kernels (run.sh adds it): after every test has loaded
# and unloaded the module, nothing the module allocated may be unreferenced.
. "$(dirname "$0")/lib.sh"

ktap_header
ktap_plan 1
module_unload
kml=/sys/kernel/debug/kmemleak
no_leaks() {
	# kmemleak reports an object only after it was seen unreferenced twice.
	echo scan >$kml && sleep 1 && echo scan >$kml || return 1
	report=$(cat $kml)
	[ -z "$report" ] && return 0
	echo "$report" | head -80
	# Leaks whose allocation trace does not pass through the module (the
	# kernel's own, or boot-time objects) are shown but do not fail.
	! echo "$report" | grep -q 'hasync'
}
ktap_check "kmemleak finds no object allocated by hasync" no_leaks
ktap_finished
