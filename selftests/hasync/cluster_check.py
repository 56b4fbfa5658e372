#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The invariants after a takeover, with the change stream stopped.

Usage: cluster_check.py [--partition | --no-takeover] STATUS CHANNELS IFACES LOAD_LOG

STATUS is `hasync -j status` of the primary, CHANNELS and IFACES are
`hasync -j channel show` and `hasync -j iface show` (the kernel), LOAD_LOG
the log of the hasync-load stream the primary was killed under (its
interface names are its own).

1. The kernel's tables are the primary's: per channel, register == the
   primary's opid == its kernel-ACKed opid, owner epoch == its epoch, and
   every section digest equal.
2. Every change confirmed to a requester is in the kernel, or superseded by
   a later request for the same interface (descriptions carry "sN").
3. The channels the last takeover replayed are among those with requests
   in flight when the primary died ("lost" in the log). Not with
   --partition: a primary cut off from its standby confirms alone until it
   is fenced, so channels with changes confirmed (not in flight) are out
   of sync too, and the takeover learns them from the kernel. Not with
   --no-takeover either: the stream ran without one (a standby was lost),
   the report is an older takeover's, and no request may be lost.
4. The stream made progress: changes were confirmed, and some after its
   last reconnection (the new primary serves requests).
Prints one diagnostic line per finding; exit 1 on any violation.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def resumed_after_reconnect(evs):
    """Some change confirmed after the stream's last reconnection (or,
    never reconnected, at all)."""
    resumed = None
    for ev in evs:
        if ev == "reconnected":
            resumed = False
        elif ev == "confirmed":
            resumed = True
    return bool(resumed)


def log_events(path):
    with open(path) as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def main():
    args = sys.argv[1:]
    partition = args[:1] == ["--partition"]
    no_takeover = args[:1] == ["--no-takeover"]
    if partition or no_takeover:
        args = args[1:]
    status, channels, ifaces = (load(p) for p in args[0:3])
    log_path = args[3]
    bad = []
    kernel = {c["id"]: c for c in channels}
    for c in status["channels"]:
        k = kernel.get(c["id"])
        if k is None:
            bad.append(f"channel {c['id']}: missing in the kernel")
            continue
        if not (k["register"] == c["opid"] == c["acked"]):
            bad.append(f"channel {c['id']}: kernel register {k['register']}, "
                       f"primary opid {c['opid']} acked {c['acked']}")
        if k["epoch"] != status["epoch"]:
            bad.append(f"channel {c['id']}: kernel epoch {k['epoch']}, primary {status['epoch']}")
        kd = {s["index"]: s["digest"] for s in k.get("section", [])}
        for i, d in enumerate(c["digests"]):
            if kd.get(i, 0) != d:
                bad.append(f"channel {c['id']} section {i}: kernel digest "
                           f"{kd.get(i, 0):#x}, primary {d:#x}")
    held = {}
    for e in ifaces:
        desc = e.get("desc", "")
        if desc.startswith("s") and desc[1:].isdigit():
            held[(e["channel"], e["name"])] = int(desc[1:])
    confirmed = {}
    lost = set()
    n_conf = 0
    events = {}
    kinds = []
    for ev in log_events(log_path):
        kinds.append(ev.get("ev"))
        events[ev.get("ev")] = events.get(ev.get("ev"), 0) + 1
        if ev.get("ev") == "confirmed":
            n_conf += 1
            key = (ev["channel"], ev["name"])
            confirmed[key] = max(confirmed.get(key, 0), ev["seq"])
        elif ev.get("ev") == "lost":
            lost.add(ev["channel"])
    for key, seq in sorted(confirmed.items()):
        have = held.get(key)
        if have is None or have < seq:
            bad.append(f"confirmed s{seq} for {key[1]} in channel {key[0]}: kernel holds "
                       f"{'nothing' if have is None else 's%d' % have}")
    if n_conf == 0:
        bad.append("the stream had no change confirmed: nothing was checked")
    elif not resumed_after_reconnect(kinds):
        bad.append("no change confirmed since the stream's last reconnection")
    report = status.get("last_takeover") or {}
    replayed = {c["channel"] for c in report.get("channels", [])
                if c["replayed_ops"] or c["replayed_sections"]}
    if no_takeover and lost:
        bad.append(f"requests lost on channels {sorted(lost)} although the primary never changed")
    if not partition and not no_takeover and not replayed <= lost:
        bad.append(f"replayed channels {sorted(replayed)} not all in flight {sorted(lost)}")
    if no_takeover:
        print(f"# {n_conf} confirmed changes checked over {len(confirmed)} interfaces; "
              f"no takeover")
    else:
        print(f"# {n_conf} confirmed changes checked over {len(confirmed)} interfaces; "
              f"takeover ({report.get('reason', '-')}): {len(report.get('channels', []))} channels "
              f"out of sync, replayed {sorted(replayed)}, in flight {sorted(lost)}, "
              f"{report.get('entries_replayed', 0)} entries replayed, "
              f"{report.get('total_ms', 0):.1f} ms")
    for b in bad:
        print(f"# VIOLATION: {b}")
    if bad:
        print(f"# load events: {events}")
        print(f"# takeover report: {json.dumps(report)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
