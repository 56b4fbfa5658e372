#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Claims at any size, all or nothing, at max_channels=4096: a claim that is
fenced or whose reply would not fit changes no epoch; a brief claim takes
every channel in one request and a brief dump reads their registers back in
pages; a cookies dump pages through a long log.  KTAP output; loads
hasync.ko itself and unloads it at the end.
"""

import errno
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hasync_nl as H  # noqa: E402
from hasync_nl import Fail, expect  # noqa: E402

CHANNELS = 4096
LOG_LEN = 4096
T = H.Ktap()
ST = {}


def raw():
    return ST["raw"]


def batch(reqs, per_send=256, timeout=60):
    """Sends (cmd, attrs dict, with NLM_F_ACK) requests, per_send to a
    sendmsg; updates go without it (their reply is the ACK)."""
    out = []
    for i in range(0, len(reqs), per_send):
        chunk = []
        for cmd, attrs, ack in reqs[i:i + per_send]:
            payload = raw().spec.encode(raw()._set_of(cmd), attrs)
            flags = H.NLM_F_REQUEST | (H.NLM_F_ACK if ack else 0)
            seq, data = raw().message(cmd, payload, flags=flags)
            # Without NLM_F_ACK the reply alone answers.
            chunk.append((seq, data, ack))
        out.extend(raw().transact(chunk, timeout=timeout))
    bad = [r.describe() for r in out if r.error or r.timeout]
    expect(not bad, f"{len(bad)} of {len(out)} failed: {bad[:3]}")
    return out


def brief_dump():
    r = raw().request("channel-get", {"brief": True}, dump=True, timeout=120)
    expect(not r.error and not r.timeout, f"brief dump: {r.describe()}")
    chans = [raw().decode("channel-get", m[1]) for m in r.msgs]
    return chans, r


def epochs():
    chans, _ = brief_dump()
    expect(len(chans) == CHANNELS, f"{len(chans)} channels in the dump, want {CHANNELS}")
    return {c["id"]: c["epoch"] for c in chans}


def claim(attrs):
    return raw().request("claim", attrs, timeout=60)


@T.case(f"{CHANNELS} channels created in batched requests; info counts them")
def _():
    batch([("channel-new", {"id": i, "sections": 8}, True) for i in range(1, CHANNELS + 1)])
    r = raw().request("info")
    info = raw().decode("info", r.msgs[0][1])
    expect(info["channels"] == CHANNELS and info["max-channels"] == CHANNELS, f"info {info}")
    # Registers to read back later: channel 1 at 3 (epoch 5), channel 4096 at 1 (epoch 2).
    batch([("update", H.update_payload_dict(1, 5, i, [("set", f"r{i}")], 8), False) for i in (1, 2, 3)])
    batch([("update", H.update_payload_dict(CHANNELS, 2, 1, [("set", "r1")], 8), False)])


@T.case(f"a claim of all {CHANNELS} without brief is refused, the reply size named, no epoch changed")
def _():
    r = claim({"all": True, "epoch": 6})
    expect(r.error == errno.EMSGSIZE, f"claim all: {r.describe()}")
    msg = r.extack.get("msg", "")
    expect(str(CHANNELS) in msg and "bytes" in msg and "brief" in msg, f"extack message {msg!r}")
    e = epochs()
    moved = {i: x for i, x in e.items() if x not in (0, 5, 2)}
    expect(not moved, f"epochs changed: {list(moved.items())[:5]}")


@T.case(f"one channel owned by a newer epoch fences a brief claim of all {CHANNELS}: no epoch changes")
def _():
    r = claim({"id": [2000], "epoch": 9})
    expect(not r.error, f"claim 2000 at 9: {r.describe()}")
    before = epochs()
    r = claim({"all": True, "epoch": 7, "brief": True})
    expect(r.error == errno.ESTALE and r.cookie_u32() == 9, f"claim all at 7: {r.describe()}")
    expect("2000" in r.extack.get("msg", ""), f"extack does not name channel 2000: {r.extack}")
    after = epochs()
    expect(after == before, "epochs changed: " + str([(i, before[i], after[i]) for i in before
                                                       if before[i] != after[i]][:5]))


@T.case(f"a brief claim takes all {CHANNELS} at once; one paged brief dump reads back every register")
def _():
    t0 = time.monotonic()
    r = claim({"all": True, "epoch": 9, "brief": True})
    t1 = time.monotonic()
    expect(not r.error, f"claim all at 9: {r.describe()}")
    reply = raw().decode("claim", r.msgs[0][1])
    expect(reply == {"claimed-count": CHANNELS, "epoch": 9}, f"reply {reply}")
    chans, d = brief_dump()
    t2 = time.monotonic()
    T.diag(f"claim {1000 * (t1 - t0):.0f} ms, brief dump {1000 * (t2 - t1):.0f} ms in {len(d.msgs)} messages")
    ids = sorted(c["id"] for c in chans)
    expect(ids == list(range(1, CHANNELS + 1)), f"dump ids: {len(ids)}, first {ids[:3]}")
    expect(all(c["epoch"] == 9 for c in chans), "an epoch is not 9")
    expect(all("section" not in c for c in chans), "a brief dump carried sections")
    by = {c["id"]: c for c in chans}
    expect((by[1]["register"], by[1]["register-epoch"]) == (3, 5), f"channel 1: {by[1]}")
    expect((by[CHANNELS]["register"], by[CHANNELS]["register-epoch"]) == (1, 2), f"last: {by[CHANNELS]}")
    expect((by[7]["register"], by[7]["register-epoch"]) == (0, 0), f"channel 7: {by[7]}")


@T.case("a claim naming 1 000 ids fits one reply: each with register and register epoch")
def _():
    r = claim({"id": list(range(1, 1001)), "epoch": 10})
    expect(not r.error, f"claim of 1000: {r.describe()}")
    got = raw().decode("claim", r.msgs[0][1]).get("claimed", [])
    expect(len(got) == 1000 and got[0] == {"id": 1, "register": 3, "epoch": 10, "register-epoch": 5},
           f"{len(got)} claimed, first {got[:1]}")
    r = claim({"id": list(range(1, CHANNELS + 1)), "epoch": 11, "brief": True})
    expect(not r.error and raw().decode("claim", r.msgs[0][1])["claimed-count"] == CHANNELS,
           f"brief claim naming {CHANNELS} ids: {r.describe()}")


@T.case("a cookies dump pages through a 3 000-entry log, oldest first, with the epochs")
def _():
    cid = 4000
    batch([("update", H.update_payload_dict(cid, 11 + (i > 1500), i, [("set", f"c{i % 97}")], 8), False)
           for i in range(1, 3001)])
    r = raw().request("cookies", {"channel": cid, "after-opid": 0}, dump=True, timeout=60)
    expect(not r.error, f"dump: {r.describe()}")
    msgs = [raw().decode("cookies", m[1]) for m in r.msgs]
    entries = [e for m in msgs for e in m.get("entry", [])]
    expect(len(msgs) > 1, f"{len(entries)} entries in {len(msgs)} message(s)")
    expect([e["opid"] for e in entries] == list(range(1, 3001)), "opids not 1..3000 in order")
    expect(all(e["epoch"] == (11 if e["opid"] <= 1500 else 12) for e in entries), "epochs")
    expect(all(e["sections"] == 1 << H.section_of(f"c{e['opid'] % 97}", 8) for e in entries), "sections")
    T.diag(f"{len(entries)} entries in {len(msgs)} messages")


def setup():
    H.module_load(f"max_channels={CHANNELS}", f"cookie_log_len={LOG_LEN}")
    ST["raw"] = H.RawGenl(rcvbuf=8 << 20)


def teardown():
    if ST.get("raw"):
        ST["raw"].close()
    H.module_unload()


if __name__ == "__main__":
    sys.exit(T.run(setup, teardown))
