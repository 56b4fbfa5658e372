#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The engine's kernel model is hasync.ko: a random stream of kernel commands
# (updates in and out of order, duplicates, stale epochs and wrong cookies,
# section replays, claims, cookie, dump, register and digest reads) gets the
# same reply from the model and from the module, seed after seed.  The
# simulator's proofs hold for the module only as far as this holds.
# HASYNC_KDIFF_SEEDS and HASYNC_KDIFF_STEPS make it longer.
. "$(dirname "$0")/lib.sh"

KDIFF=${KDIFF:-$TOP/userspace/target/release/examples/kernel_diff}
SEEDS=${HASYNC_KDIFF_SEEDS:-8}
STEPS=${HASYNC_KDIFF_STEPS:-3000}
# A short cookie log, so that "log too short" answers are compared too.
LOG=8

ktap_header
ktap_plan "$SEEDS"
require || exit 1
[ -x "$KDIFF" ] || { echo "missing $KDIFF (run 'make userspace')" >&2; exit 1; }

seed=1
while [ "$seed" -le "$SEEDS" ]; do
	module_load cookie_log_len=$LOG || exit 1
	# The reply counts by kind show what was compared, pass or fail.
	if out=$("$KDIFF" --seed "$seed" --steps "$STEPS" --channels 6 --cookie-log $LOG 2>&1); then
		printf '%s\n' "$out"
		ktap_ok "seed $seed: $STEPS commands, model and module agree"
	else
		printf '%s\n' "$out" | sed 's/^\([^#]\)/# \1/'
		ktap_not_ok "seed $seed: $STEPS commands, model and module agree"
	fi
	seed=$((seed + 1))
done
module_unload
ktap_finished
