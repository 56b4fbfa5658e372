#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Wait until a Python expression over a daemon's status holds.

Usage: cluster_wait.py TIMEOUT EXPR COMMAND...

Runs COMMAND (`hasync -j status` in the daemon's namespace) every 0.2 s
and evaluates EXPR with the parsed status as `s`; exits 0 as soon as it
is true, 1 at TIMEOUT seconds with the expression and the last status on
standard error. One interpreter for the whole wait: under the test VM's
emulation, starting Python costs more than a status call.
"""
import json
import subprocess
import sys
import time


def main():
    timeout, expr, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
    code = compile(expr, "<expr>", "eval")
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        r = subprocess.run(cmd, capture_output=True, text=True)
        last = r.stdout or r.stderr
        try:
            if r.returncode == 0 and eval(code, {}, {"s": json.loads(r.stdout)}):
                return 0
        except (ValueError, KeyError, TypeError, IndexError):
            pass
        if time.monotonic() >= deadline:
            print(f"# timed out waiting for: {expr}", file=sys.stderr)
            print(last[:600], file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
