#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The hasync generic netlink family, command by command, against the
contract in hasync.yaml: channels, updates (gap, duplicate, fencing,
atomicity, cookies), claim, the cookie log, section replay, entry reads,
digests against the Python reference, stats, multicast groups, batching and
CAP_NET_ADMIN.  KTAP output; loads hasync.ko itself and unloads it at the end.
"""

import errno
import os
import random
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hasync_nl as H  # noqa: E402
from hasync_nl import Fail, expect, errname  # noqa: E402

MAX_CHANNELS = 16
LOG_LEN = 8
PARAMS = [f"max_channels={MAX_CHANNELS}", f"cookie_log_len={LOG_LEN}"]

T = H.Ktap()
S = H.spec()
ST = {"c": None, "raw": None}
CREATED = []
CLOSE = []
_ids = iter(range(100, 1 << 30))


def c():
    return ST["c"]


def raw():
    return ST["raw"]


def case(name):
    def deco(fn):
        def wrapped():
            try:
                fn()
            finally:
                cleanup()
        T.cases.append((name, wrapped))
        return fn
    return deco


def cleanup():
    while CLOSE:
        try:
            CLOSE.pop().close()
        except Exception:
            pass
    while CREATED:
        cid = CREATED.pop()
        try:
            raw().request("channel-del", {"id": cid})
        except Exception:
            pass


def new_chan(sections=None, name=None, cid=None):
    cid = next(_ids) if cid is None else cid
    attrs = {"id": cid}
    if name is not None:
        attrs["name"] = name
    if sections is not None:
        attrs["sections"] = sections
    r = raw().request("channel-new", attrs)
    if r.error:
        raise Fail(f"channel-new {attrs}: {r.describe()}")
    CREATED.append(cid)
    return cid


def client():
    cl = H.Client()
    CLOSE.append(cl)
    return cl


def rawsock(**kw):
    r = H.RawGenl(**kw)
    CLOSE.append(r)
    return r


def chan(cid):
    return H.channel_info(raw(), cid)


def req(cmd, attrs=None, **kw):
    return raw().request(cmd, attrs or {}, **kw)


def ok(cmd, attrs=None):
    r = req(cmd, attrs)
    if r.error or r.timeout:
        raise Fail(f"{cmd} {attrs}: {r.describe()}")
    return raw().decode(cmd, r.msgs[0][1]) if r.msgs else None


def fails(want, cmd, attrs=None, what=""):
    """The request must fail with errno `want` (an int or a tuple of
    acceptable ones; None = any error)."""
    r = req(cmd, attrs)
    if r.timeout:
        raise Fail(f"{what or cmd}: no answer")
    if not r.error:
        raise Fail(f"{what or cmd} {attrs if not what else ''}: succeeded, want "
                   f"{errname(want) if isinstance(want, int) else want or 'an error'}")
    wants = (want,) if isinstance(want, int) else want
    if wants is not None and r.error not in wants:
        raise Fail(f"{what or cmd}: got {errname(r.error)}, want {' or '.join(errname(w) for w in wants)}; "
                   f"extack {r.extack}")
    return r


def update(cid, epoch, opid, ops, sections, cookie=None):
    r = raw().request("update", H.update_payload(cid, epoch, opid, ops, sections, cookie))
    return r


def update_ok(cid, epoch, opid, ops, sections, cookie=None):
    r = update(cid, epoch, opid, ops, sections, cookie)
    if r.error or r.timeout or not r.msgs:
        raise Fail(f"update {cid} opid {opid}: {r.describe()}")
    ack = raw().decode("update", r.msgs[0][1])
    want_cookie = H.cookie_of(H.ops_names(ops), sections) if cookie is None else cookie
    want = {"channel": cid, "epoch": epoch, "opid": opid, "cookie": want_cookie}
    expect(ack == want, f"update {cid} opid {opid}: ACK {ack}, want {want}")
    return ack


def update_fails(want, cid, epoch, opid, ops, sections, cookie=None, what="update"):
    r = update(cid, epoch, opid, ops, sections, cookie)
    if r.timeout:
        raise Fail(f"{what}: no answer")
    if not r.error:
        raise Fail(f"{what}: succeeded ({r.describe()}), want {want}")
    wants = (want,) if isinstance(want, int) else want
    if wants is not None and r.error not in wants:
        raise Fail(f"{what}: got {errname(r.error)}, want {' or '.join(errname(w) for w in wants)}; "
                   f"extack {r.extack}")
    return r


def fill(cid, sections, model, n, rng, epoch=0, tag="r", per=8):
    """Apply n random set ops (in updates of up to `per` ops)."""
    opid = chan(cid)["register"]
    names = [f"{tag}{i}" for i in range(n)]
    for i in range(0, n, per):
        ops = [("set", H.random_record(rng, nm)) for nm in names[i:i + per]]
        opid += 1
        update_ok(cid, epoch, opid, ops, sections)
        model.apply(ops)
    return opid


def name_in(section, sections, prefix="n", skip=()):
    i = 0
    while True:
        nm = f"{prefix}{i}"
        if H.section_of(nm, sections) == section and nm not in skip:
            return nm
        i += 1


def names_in_distinct_sections(k, sections, prefix="d"):
    out, seen = [], set()
    i = 0
    while len(out) < k:
        nm = f"{prefix}{i}"
        s = H.section_of(nm, sections)
        if s not in seen:
            seen.add(s)
            out.append(nm)
        i += 1
    return out


def same_state(before, what):
    after = H.snapshot(raw())
    d = H.snapshot_diff(raw(), before, after)
    if d or before != after:
        raise Fail(f"{what} changed the state:\n  " + "\n  ".join(d or ["(raw bytes differ)"]))


def check(cid, model):
    p = H.check_channel(raw(), cid, model)
    if p:
        raise Fail(f"channel {cid}:\n  " + "\n  ".join(p))


def stats():
    r = req("stats")
    expect(not r.error and r.msgs, f"stats: {r.describe()}")
    return raw().decode("stats", r.msgs[0][1])


# ---------------------------------------------------------------------------

@case("reference functions match the Rust test vectors (hasync_nl.py --self-test)")
def _():
    p = subprocess.run([H.PY, os.path.join(H.SELFTEST_DIR, "hasync_nl.py"), "--self-test"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    expect(p.returncode == 0, p.stdout)


@case("spec validates against the genetlink schema; family and groups resolve")
def _():
    H.Client(validate=True).close()
    expect(raw().family_id, "no family id")
    for g in ("acks", "monitor"):
        expect(g in raw().groups, f"multicast group {g} missing: {raw().groups}")


@case("info reports the load parameters and the counts")
def _():
    i = c().do("info")
    want = {"max-channels": MAX_CHANNELS, "cookie-log-len": LOG_LEN, "max-sections": 64, "proto-version": 1}
    for k, v in want.items():
        expect(i.get(k) == v, f"info {k} = {i.get(k)}, want {v}")
    d = H.channel_dump(raw())
    expect(i.get("channels") == len(d), f"info channels {i.get('channels')}, dump has {len(d)}")
    expect(i.get("entries") == sum(x["entries"] for x in d), "info entries != sum over channels")


@case("channel-new defaults: 64 sections, register 0, epoch 0, empty, log-first-opid 0")
def _():
    cid = new_chan(name="alpha")
    ch = chan(cid)
    want = {"id": cid, "name": "alpha", "sections": 64, "register": 0, "epoch": 0, "entries": 0,
            "log-first-opid": 0}
    for k, v in want.items():
        expect(ch.get(k) == v, f"{k} = {ch.get(k)!r}, want {v!r} (reply {ch})")
    secs = ch.get("section", [])
    expect(secs == [{"index": i, "entries": 0, "digest": 0} for i in range(64)],
           f"section nests: {secs[:3]}... ({len(secs)})")
    # the YNL view agrees
    y = c().channel(cid)
    expect(y["sections"] == 64 and y["name"] == "alpha" and len(y["section"]) == 64, f"YNL view {y}")


@case("channel-new accepts every power of two from 1 to 64")
def _():
    for n in (1, 2, 4, 8, 16, 32, 64):
        cid = new_chan(sections=n)
        ch = chan(cid)
        expect(ch["sections"] == n and len(ch.get("section", [])) == n,
               f"sections {n}: reply sections {ch['sections']}, {len(ch.get('section', []))} nests")
        raw().request("channel-del", {"id": cid})
        CREATED.remove(cid)


@case("channel-new refuses non-powers of two (EINVAL) and counts outside 1..64")
def _():
    for n in (3, 5, 6, 7, 12, 24, 48, 63):
        cid = next(_ids)
        fails(errno.EINVAL, "channel-new", {"id": cid, "sections": n}, what=f"sections {n}")
        fails(errno.ENOENT, "channel-get", {"id": cid}, what=f"channel-get after refused sections {n}")
    for n in (0, 65, 128, 0xFFFFFFFF):
        cid = next(_ids)
        fails(None, "channel-new", {"id": cid, "sections": n}, what=f"sections {n}")
        fails(errno.ENOENT, "channel-get", {"id": cid}, what=f"channel-get after refused sections {n}")


@case("channel-new on an existing id: EEXIST, the channel untouched")
def _():
    cid = new_chan(sections=8, name="first")
    before = H.snapshot(raw())
    fails(errno.EEXIST, "channel-new", {"id": cid, "name": "second", "sections": 4})
    fails(errno.EEXIST, "channel-new", {"id": cid})
    same_state(before, "a refused channel-new")
    ch = chan(cid)
    expect(ch["name"] == "first" and ch["sections"] == 8, f"channel now {ch}")


@case("channel-new beyond max_channels: ENOSPC; room again after a delete")
def _():
    have = len(H.channel_dump(raw()))
    for _ in range(MAX_CHANNELS - have):
        new_chan(sections=1)
    expect(c().do("info")["channels"] == MAX_CHANNELS, "info channels at the limit")
    extra = next(_ids)
    fails(errno.ENOSPC, "channel-new", {"id": extra})
    fails(errno.ENOENT, "channel-get", {"id": extra}, what="channel-get of the refused channel")
    victim = CREATED.pop()
    ok("channel-del", {"id": victim})
    new_chan(cid=extra)


@case("channel-del removes the channel and its records; then ENOENT")
def _():
    cid = new_chan(sections=4)
    update_ok(cid, 0, 1, [("set", {"name": f"x{i}"}) for i in range(5)], 4)
    e0 = c().do("info")["entries"]
    ok("channel-del", {"id": cid})
    CREATED.remove(cid)
    fails(errno.ENOENT, "channel-get", {"id": cid})
    fails(errno.ENOENT, "channel-del", {"id": cid})
    fails(errno.ENOENT, "update", H.update_payload(cid, 0, 2, [("set", "x")], 4), what="update after delete")
    e1 = c().do("info")["entries"]
    expect(e1 == e0 - 5, f"info entries {e0} -> {e1}, want -5")
    cid2 = new_chan(sections=4, cid=cid)
    ch = chan(cid2)
    expect(ch["register"] == 0 and ch["entries"] == 0, f"re-created channel not fresh: {ch}")


@case("channel-get dump lists every channel exactly as channel-get do")
def _():
    ids = [new_chan(sections=s, name=f"d{s}") for s in (1, 8, 64)]
    update_ok(ids[1], 0, 1, [("set", "eth0")], 8)
    dump = {x["id"]: x for x in H.channel_dump(raw())}
    for cid in ids:
        expect(cid in dump, f"channel {cid} missing from the dump")
        expect(dump[cid] == chan(cid), f"dump {dump[cid]} != do {chan(cid)}")
    ydump = c().dump("channel-get")
    expect(sorted(x["id"] for x in ydump) == sorted(dump), "YNL dump ids differ")


@case("update set: ACK {channel, opid, cookie}, record readable, register advances")
def _():
    cid = new_chan()
    rec = {"name": "eth0", "admin-up": 1, "mtu": 9000, "mac": bytes([2, 0, 0, 0, 0, 1]), "vlan": 42,
           "addr": [H.v6("2001:db8::1", 64), H.v4("10.0.0.1", 24)], "desc": "uplink"}
    r = update(cid, 0, 1, [("set", rec)], 64)
    expect(not r.error and len(r.msgs) == 1, r.describe())
    expect(r.msgs[0][0] == S.cmd("update"), f"reply cmd {r.msgs[0][0]}, want update ({S.cmd('update')})")
    ack = raw().decode("update", r.msgs[0][1])
    expect(ack == {"channel": cid, "epoch": 0, "opid": 1, "cookie": 1 << 4}, f"ACK {ack}")
    e = ok("entry-get", {"channel": cid, "name": "eth0"})
    expect(e["channel"] == cid, f"entry channel {e}")
    expect(H.canonical(e["iface"]) == H.canonical(rec), f"record {e['iface']}")
    expect(e["iface"].get("section") == 4, f"section {e['iface'].get('section')}, want 4")
    ch = chan(cid)
    expect((ch["register"], ch["entries"], ch["log-first-opid"]) == (1, 1, 1), f"channel {ch}")
    expect(ch["section"][4] == {"index": 4, "entries": 1, "digest": 0x391C75C0E67D04BE},
           f"section 4 {ch['section'][4]} (want the table.rs SAMPLE_HASH)")
    y = c().update(cid, 0, 2, [("set", "lo")], 64)
    expect(y == {"channel": cid, "epoch": 0, "opid": 2, "cookie": 1 << 0x2C}, f"YNL ACK {y}")


@case("set replaces the whole record: omitted fields return to their defaults")
def _():
    cid = new_chan(sections=8)
    full = {"name": "eth1", "admin-up": 1, "mtu": 9000, "mac": "02:aa:bb:cc:dd:ee", "vlan": 7,
            "addr": [H.v4("192.0.2.1", 24)], "desc": "before"}
    update_ok(cid, 0, 1, [("set", full)], 8)
    update_ok(cid, 0, 2, [("set", {"name": "eth1"})], 8)
    e = ok("entry-get", {"channel": cid, "name": "eth1"})
    got = H.norm_iface(e["iface"])
    want = H.norm_iface({"name": "eth1"})
    expect(got == want, f"after a bare set: {got}, want defaults {want}")
    update_ok(cid, 0, 3, [("set", {"name": "eth1", "mtu": 1280})], 8)
    m = H.Model(8)
    m.apply([("set", {"name": "eth1", "mtu": 1280})])
    check(cid, m)


@case("del removes a record; deleting an absent record is not an error")
def _():
    cid = new_chan(sections=8)
    m = H.Model(8)
    ops = [("set", {"name": "a"}), ("set", {"name": "b", "mtu": 2000})]
    update_ok(cid, 0, 1, ops, 8)
    m.apply(ops)
    update_ok(cid, 0, 2, [("del", "a")], 8)
    m.apply([("del", "a")])
    fails(errno.ENOENT, "entry-get", {"channel": cid, "name": "a"})
    update_ok(cid, 0, 3, [("del", "never")], 8)
    ch = chan(cid)
    expect(ch["register"] == 3 and ch["entries"] == 1, f"channel {ch}")
    check(cid, m)


@case("ops apply in order within one update")
def _():
    cid = new_chan(sections=4)
    m = H.Model(4)
    ops = [("set", {"name": "x", "mtu": 1000}), ("set", {"name": "x", "mtu": 2000}), ("set", {"name": "y"}),
           ("del", "y"), ("del", "z"), ("set", {"name": "z", "mtu": 3000})]
    update_ok(cid, 0, 1, ops, 4)
    m.apply(ops)
    check(cid, m)


@case("gap: opid other than register+1 gets EPROTO, an extack message, cookie = register (u64)")
def _():
    cid = new_chan(sections=8)
    r = update_fails(errno.EPROTO, cid, 0, 2, [("set", "a")], 8, what="opid 2 on a fresh channel")
    expect(r.cookie == struct.pack("Q", 0), f"extack cookie {r.cookie!r}, want u64 0")
    for i in range(1, 4):
        update_ok(cid, 0, i, [("set", f"a{i}")], 8)
    before = H.snapshot(raw())
    for opid in (5, 6, 100, 1 << 40):
        r = update_fails(errno.EPROTO, cid, 0, opid, [("set", "gap")], 8, what=f"opid {opid}")
        expect(r.extack.get("msg"), f"opid {opid}: no extack message ({r.extack})")
        expect(r.cookie == struct.pack("Q", 3), f"opid {opid}: extack cookie {r.cookie!r}, want u64 3")
    same_state(before, "refused gapped updates")
    update_ok(cid, 0, 4, [("set", "a4")], 8)
    # the YNL view of the same error
    try:
        c().update(cid, 0, 9, [("set", "gap")], 8)
        raise Fail("YNL update with a gap succeeded")
    except c().NlError as e:
        expect(e.error == errno.EPROTO, f"YNL: {errname(e.error)}")
        expect(H.ynl_cookie(e) == struct.pack("Q", 4), f"YNL cookie {H.ynl_cookie(e)!r}")


@case("duplicate: opid at or below the register is re-ACKed with the duplicate flag, nothing changes")
def _():
    cid = new_chan(sections=8)
    for i in range(1, 4):
        update_ok(cid, 0, i, [("set", {"name": f"a{i}", "mtu": 1000 + i})], 8)
    before = H.snapshot(raw())
    for opid in (1, 2, 3):
        r = update(cid, 0, opid, [("set", {"name": f"a{opid}", "mtu": 4000}), ("del", "a1")], 8)
        expect(not r.error and r.msgs, f"opid {opid}: {r.describe()}")
        ack = raw().decode("update", r.msgs[0][1])
        expect(ack.get("duplicate") is True, f"opid {opid}: ACK without the duplicate flag: {ack}")
        expect(ack.get("channel") == cid and ack.get("opid") == opid, f"opid {opid}: ACK {ack}")
    same_state(before, "duplicate updates")
    ack = update_ok(cid, 0, 4, [("set", "a4")], 8)
    expect("duplicate" not in ack, "fresh ACK flagged duplicate")


@case("fencing: an epoch below the owner's gets ESTALE, extack cookie = owner epoch (u32)")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 0, 1, [("set", "a")], 8)
    ok("claim", {"id": [cid], "epoch": 5})
    before = H.snapshot(raw())
    for ep in (0, 4):
        r = update_fails(errno.ESTALE, cid, ep, 2, [("set", "b")], 8, what=f"epoch {ep}")
        expect(r.cookie == struct.pack("I", 5), f"epoch {ep}: extack cookie {r.cookie!r}, want u32 5")
        expect(r.extack.get("msg"), f"epoch {ep}: no extack message")
    same_state(before, "fenced updates")
    update_ok(cid, 5, 2, [("set", "b")], 8)


@case("fencing comes first: a stale owner gets ESTALE for a gapped or a duplicate opid too")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 0, 1, [("set", "a")], 8)
    ok("claim", {"id": [cid], "epoch": 5})
    before = H.snapshot(raw())
    update_fails(errno.ESTALE, cid, 4, 7, [("set", "b")], 8, what="stale epoch with a gap")
    update_fails(errno.ESTALE, cid, 4, 1, [("set", "a")], 8, what="stale epoch with a duplicate opid")
    same_state(before, "stale updates")


@case("an update with a higher epoch raises the owner epoch; the old epoch is then fenced")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 7, 1, [("set", "a")], 8)
    expect(chan(cid)["epoch"] == 7, f"epoch {chan(cid)['epoch']}, want 7")
    r = update_fails(errno.ESTALE, cid, 6, 2, [("set", "b")], 8)
    expect(r.cookie == struct.pack("I", 7), f"cookie {r.cookie!r}")
    update_ok(cid, 7, 2, [("set", "b")], 8)
    update_ok(cid, 9, 3, [("set", "c")], 8)
    expect(chan(cid)["epoch"] == 9, "epoch not raised to 9")


ATOMIC_BAD = [
    ("a name with '/'", ("set", {"name": "bad/name"})),
    ("a name with a space", ("set", {"name": "sp ace"})),
    ("an IPv4 address of 16 bytes", ("set", {"name": "b1", "addr": [{"family": 4, "prefix-len": 8,
                                                                        "address": bytes(16)}]})),
    ("an IPv6 address of 4 bytes", ("set", {"name": "b2", "addr": [{"family": 6, "prefix-len": 8,
                                                                       "address": bytes(4)}]})),
    ("address family 5", ("set", {"name": "b3", "addr": [{"family": 5, "prefix-len": 8, "address": bytes(4)}]})),
    ("IPv4 prefix 33", ("set", {"name": "b4", "addr": [H.v4("10.1.1.1", 33)]})),
    ("duplicate addresses", ("set", {"name": "b5", "addr": [H.v4("10.1.1.1", 8), H.v4("10.1.1.1", 8)]})),
    ("a del of an invalid name", ("del", "x/y")),
]


@case("update is atomic: an invalid op 3 of 4 leaves ops 1 and 2 unapplied")
def _():
    cid = new_chan()
    update_ok(cid, 0, 1, [("set", "keep")], 64)
    before = H.snapshot(raw())
    for what, bad in ATOMIC_BAD:
        ops = [("set", {"name": "new1", "mtu": 1234}), ("del", "keep"), bad, ("set", "new4")]
        update_fails(errno.EINVAL, cid, 0, 2, ops, 64, what=f"op 3 with {what}")
        same_state(before, f"an update whose op 3 has {what}")
    many = ("set", {"name": "b6", "addr": [H.v4(f"10.0.0.{i}", 32) for i in range(17)]})
    update_fails((errno.EINVAL, errno.E2BIG), cid, 0, 2, [("set", "new1"), ("del", "keep"), many, ("set", "n4")],
                 64, what="op 3 with 17 addresses")
    same_state(before, "an update whose op 3 has 17 addresses")
    update_ok(cid, 0, 2, [("set", "new1"), ("del", "keep")], 64)


@case("invalid ops are refused with an extack message")
def _():
    cid = new_chan()
    missing = []
    for what, bad in ATOMIC_BAD:
        r = update_fails(errno.EINVAL, cid, 0, 1, [bad], 64, what=what)
        if not r.extack.get("msg"):
            missing.append(what)
    expect(not missing, f"no extack message for: {', '.join(missing)}")


@case("cookie must be exactly the OR of the touched sections (EINVAL otherwise)")
def _():
    cid = new_chan()
    names = names_in_distinct_sections(3, 64)
    ops = [("set", names[0]), ("del", names[1]), ("set", {"name": names[2], "mtu": 2000})]
    good = H.cookie_of(names, 64)
    spare = next(b for b in range(64) if not good >> b & 1)
    low = good & -good
    before = H.snapshot(raw())
    for bad in (good & ~low, good | 1 << spare, 0, H.M64, 1 << 63 if not good >> 63 & 1 else 1):
        update_fails(errno.EINVAL, cid, 0, 1, ops, 64, cookie=bad, what=f"cookie {bad:#x} (want {good:#x})")
    same_state(before, "updates with wrong cookies")
    update_ok(cid, 0, 1, ops, 64)
    c8 = new_chan(sections=8)
    update_fails(errno.EINVAL, c8, 0, 1, [("set", "eth0")], 8, cookie=(1 << 4) | (1 << 8),
                 what="cookie bit beyond 8 sections")
    update_ok(c8, 0, 1, [("set", "eth0")], 8)
    c1 = new_chan(sections=1)
    update_fails(errno.EINVAL, c1, 0, 1, [("set", "eth0")], 1, cookie=2, what="cookie 2 on one section")
    update_ok(c1, 0, 1, [("set", "eth0"), ("set", "lo")], 1)


@case("update on an unknown channel: ENOENT")
def _():
    cid = next(_ids)
    update_fails(errno.ENOENT, cid, 0, 1, [("set", "a")], 64)
    fails(errno.ENOENT, "channel-get", {"id": cid})


@case("acks group: each applied update is published as ack-ntf {channel, opid, cookie}")
def _():
    cid = new_chan(sections=16)
    lis = rawsock(rcvbuf=4 << 20)
    lis.subscribe("acks")
    ylis = client()
    ylis.subscribe("acks")
    want = []
    for i in range(1, 6):
        ops = [("set", f"if{i}"), ("set", f"ag{i}")]
        want.append({"channel": cid, "epoch": 0, "opid": i, "cookie": H.cookie_of([f"if{i}", f"ag{i}"], 16)})
        update_ok(cid, 0, i, ops, 16)
    update_fails(errno.EPROTO, cid, 0, 9, [("set", "x")], 16)
    update(cid, 0, 2, [("set", "x")], 16)  # a duplicate
    got = lis.wait_ntf(5, cmds={S.cmd("ack-ntf")})
    time.sleep(0.3)
    lis.drain()
    allmsg = [(b[0], b[4:]) for (t, f, s, p, b) in lis.ntf if t == lis.family_id]
    expect(all(cmd == S.cmd("ack-ntf") for cmd, _ in allmsg),
           f"acks group carried commands {[cmd for cmd, _ in allmsg]}, want only ack-ntf ({S.cmd('ack-ntf')})")
    acks = [raw().decode("update", p) for _, p in allmsg]
    fresh = [a for a in acks if not a.get("duplicate")]
    expect(fresh == want, f"ack-ntf {fresh}, want {want}")
    y = [m["msg"] for m in ylis.ntfs(5, name="ack-ntf")]
    y = [m for m in y if not m.get("duplicate")]
    expect(y == want, f"YNL saw {y}")


@case("monitor group: channel-ntf on new/claim/replay/del, entry-ntf per changed record")
def _():
    mon = rawsock(rcvbuf=4 << 20)
    mon.subscribe("monitor")
    CH, EN = S.cmd("channel-ntf"), S.cmd("entry-ntf")
    probs = []

    def take(n, what, only):
        got = mon.wait_ntf(n, cmds={only}, timeout=3.0)
        time.sleep(0.1)
        mon.drain()
        got = [(b[0], b[4:]) for (t, f, s, p, b) in mon.ntf if t == mon.family_id]
        mon.ntf.clear()
        got = [(cmd, raw().decode("channel-get" if cmd == CH else "entry-get", p)) for cmd, p in got
               if cmd in (CH, EN)]
        if len([x for x in got if x[0] == only]) < n:
            probs.append(f"{what}: {len([x for x in got if x[0] == only])} "
                         f"{'channel-ntf' if only == CH else 'entry-ntf'}, want {n}")
        return [m for cmd, m in got if cmd == only]

    cid = new_chan(sections=8, name="mon")
    n = take(1, "channel-new", CH)
    if n and [m.get("id") for m in n] != [cid]:
        probs.append(f"channel-new notified {n}")
    recs = [{"name": "ma", "mtu": 1400}, {"name": "mb", "desc": "b"}, {"name": "mc"}]
    update_ok(cid, 0, 1, [("set", r) for r in recs], 8)
    n = take(3, "a 3-op update", EN)
    got = sorted((m.get("channel"), H.canonical(m["iface"])) for m in n if "iface" in m)
    if n and got != sorted((cid, H.canonical(r)) for r in recs):
        probs.append(f"entry-ntf records {n}")
    update_ok(cid, 0, 2, [("del", "ma")], 8)
    n = take(1, "a del", EN)
    if n:
        m = n[0]
        gone = m.get("iface", {}).get("name") == "ma" and set(m["iface"]) <= {"name", "section"} \
            or m.get("name") == "ma" and "iface" not in m
        if m.get("channel") != cid or not gone:
            probs.append(f"a deleted record must be notified as name + channel only: {m}")
    ok("claim", {"id": [cid], "epoch": 3})
    n = take(1, "claim", CH)
    if n and (n[0].get("id") != cid or n[0].get("epoch") != 3):
        probs.append(f"claim notified {n}")
    ok("replay-begin", {"channel": cid, "epoch": 3, "opid": 5, "sections": 1})
    ok("replay-commit", {"channel": cid})
    n = take(1, "replay-commit", CH)
    if n and (n[0].get("id") != cid or n[0].get("register") != 5):
        probs.append(f"replay notified {n}")
    ok("channel-del", {"id": cid})
    CREATED.remove(cid)
    n = take(1, "channel-del", CH)
    if n and n[0].get("id") != cid:
        probs.append(f"channel-del notified {n}")
    expect(not probs, "; ".join(probs))


@case("claim named channels: claimed {id, register, epoch} for each, epoch raised")
def _():
    a, b = new_chan(sections=8), new_chan(sections=8)
    update_ok(a, 0, 1, [("set", "x")], 8)
    update_ok(a, 0, 2, [("set", "y")], 8)
    r = ok("claim", {"id": [a, b], "epoch": 4})
    got = sorted(r.get("claimed", []), key=lambda x: x["id"])
    expect(got == [{"id": a, "register": 2, "epoch": 4, "register-epoch": 0},
                   {"id": b, "register": 0, "epoch": 4, "register-epoch": 0}], f"claimed {got}")
    expect(chan(a)["epoch"] == 4 and chan(b)["epoch"] == 4, "epochs not raised")
    r = ok("claim", {"id": [a], "epoch": 4})
    expect(r.get("claimed") == [{"id": a, "register": 2, "epoch": 4, "register-epoch": 0}],
           f"re-claim at the same epoch: {r}")
    y = c().do("claim", {"id": b, "epoch": 6})
    expect(y == {"claimed": [{"id": b, "register": 0, "epoch": 6, "register-epoch": 0}]}, f"YNL claim {y}")


@case("claim all: every channel claimed")
def _():
    a, b = new_chan(sections=2), new_chan(sections=4)
    r = ok("claim", {"all": True, "epoch": 9})
    ids = sorted(x["id"] for x in r.get("claimed", []))
    expect(ids == sorted(x["id"] for x in H.channel_dump(raw())), f"claimed {ids}")
    expect(a in ids and b in ids and all(x["epoch"] == 9 for x in r["claimed"]), f"claimed {r}")
    expect(chan(a)["epoch"] == 9 and chan(b)["epoch"] == 9, "epochs")


@case("claim with a lower epoch: ESTALE and no channel changes")
def _():
    a, b = new_chan(sections=2), new_chan(sections=2)
    ok("claim", {"id": [a], "epoch": 3})
    ok("claim", {"id": [b], "epoch": 9})
    before = H.snapshot(raw())
    fails(errno.ESTALE, "claim", {"id": [a, b], "epoch": 5}, what="claim a+b at 5 with b at 9")
    fails(errno.ESTALE, "claim", {"id": [b, a], "epoch": 5}, what="claim b+a at 5 with b at 9")
    fails(errno.ESTALE, "claim", {"all": True, "epoch": 5}, what="claim all at 5 with b at 9")
    same_state(before, "fenced claims")


@case("claim of an unknown channel: ENOENT and no channel changes")
def _():
    a = new_chan(sections=2)
    before = H.snapshot(raw())
    fails(errno.ENOENT, "claim", {"id": [a, next(_ids)], "epoch": 7})
    same_state(before, "a claim naming an unknown channel")


@case("claim brief: claimed-count and epoch only; a brief channel dump has the registers, no sections")
def _():
    a, b = new_chan(sections=8), new_chan(sections=8)
    update_ok(a, 3, 1, [("set", "x")], 8)
    r = ok("claim", {"id": [a, b], "epoch": 5, "brief": True})
    expect(r == {"claimed-count": 2, "epoch": 5}, f"brief claim reply {r}")
    d = req("channel-get", {"brief": True}, dump=True)
    expect(not d.error and d.msgs, f"brief dump: {d.describe()}")
    got = {x["id"]: x for x in (raw().decode("channel-get", m[1]) for m in d.msgs)}
    expect(a in got and b in got, f"brief dump ids {sorted(got)}")
    for cid, reg, rep in ((a, 1, 3), (b, 0, 0)):
        x = got[cid]
        want = {"register": reg, "epoch": 5, "register-epoch": rep, "sections": 8}
        expect({k: x.get(k) for k in want} == want and "section" not in x, f"channel {cid}: {x}")
    fails(errno.ESTALE, "claim", {"id": [a, b], "epoch": 4, "brief": True})


@case("register-epoch: the epoch of the update at the register, in channel, claim and duplicate ACKs")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 2, 1, [("set", "x")], 8)
    ok("claim", {"id": [cid], "epoch": 6})
    ch = chan(cid)
    expect((ch["epoch"], ch["register-epoch"]) == (6, 2), f"after a claim: {ch}")
    update_ok(cid, 6, 2, [("set", "y")], 8)
    expect(chan(cid)["register-epoch"] == 6, f"after epoch 6 wrote: {chan(cid)}")
    # A duplicate is answered with the epoch that wrote its opid.
    r = update(cid, 6, 1, [("set", "x")], 8)
    ack = raw().decode("update", r.msgs[0][1])
    expect(ack.get("duplicate") and ack.get("epoch") == 2, f"duplicate of opid 1: {ack}")


@case("cookies dump: the log's entries with their epochs, oldest first; log-short past its reach")
def _():
    cid = new_chan(sections=64)
    names = [f"cd{i}" for i in range(1, 11)]
    for i, nm in enumerate(names, 1):
        update_ok(cid, 1 if i <= 5 else 2, i, [("set", nm)], 64)

    def dump(after):
        r = req("cookies", {"channel": cid, "after-opid": after}, dump=True)
        expect(not r.error and r.msgs, f"cookies dump after {after}: {r.describe()}")
        msgs = [raw().decode("cookies", m[1]) for m in r.msgs]
        entries = [e for m in msgs for e in m.get("entry", [])]
        return msgs, entries

    # cookie_log_len is 8: opids 3..10 remain.
    msgs, entries = dump(4)
    expect([e["opid"] for e in entries] == list(range(5, 11)), f"entries {entries}")
    expect([e["epoch"] for e in entries] == [1, 2, 2, 2, 2, 2], f"epochs {entries}")
    expect(all(e["sections"] == 1 << H.section_of(names[e["opid"] - 1], 64) for e in entries), f"{entries}")
    expect(all(m.get("register") == 10 and m.get("channel") == cid for m in msgs), f"{msgs}")
    expect(not any(m.get("log-short") for m in msgs), f"log-short at 4: {msgs}")
    msgs, entries = dump(10)
    expect(entries == [] and len(msgs) == 1, f"nothing above the register: {msgs}")
    msgs, entries = dump(1)
    expect(entries == [] and msgs[-1].get("log-short"), f"after 1 (evicted): {msgs}")
    r = req("cookies", {"channel": next(_ids), "after-opid": 0}, dump=True)
    expect(r.error == errno.ENOENT, f"unknown channel: {r.describe()}")


def attr_offsets(payload):
    """{attribute type: offset of its header from the start of the netlink
    message} for a request's top-level attributes (the extack's 'offs')."""
    out, off = {}, 0
    while off + 4 <= len(payload):
        ln, typ = struct.unpack_from("HH", payload, off)
        out[typ & 0x3FFF] = 20 + off  # nlmsghdr + genlmsghdr
        off += (ln + 3) & ~3
    return out


@case("refusals point the extack at the attribute they are about, and name a missing one")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 4, 1, [("set", "x")], 8)
    U = {n: S.attr("update", n) for n in ("channel", "epoch", "opid", "cookie")}
    probs = []

    def points(what, payload, want_err, want_attr, cmd="update"):
        r = raw().request(cmd, payload)
        offs = attr_offsets(payload)
        if r.error != want_err or r.extack.get("offs") != offs.get(want_attr):
            probs.append(f"{what}: {r.describe()}, want {H.errname(want_err)} at offset {offs.get(want_attr)}")

    points("a gap", H.update_payload(cid, 4, 5, [("set", "y")], 8), errno.EPROTO, U["opid"])
    points("a stale epoch", H.update_payload(cid, 3, 2, [("set", "y")], 8), errno.ESTALE, U["epoch"])
    points("an unknown channel", H.update_payload(next(_ids), 4, 1, [("set", "y")], 8), errno.ENOENT,
           U["channel"])
    points("a wrong cookie", H.update_payload(cid, 4, 2, [("set", "y")], 8, cookie=1), errno.EINVAL,
           U["cookie"])
    C = {n: S.attr("channel", n) for n in ("id", "sections", "epoch")}
    points("sections 3", S.encode("channel", {"id": next(_ids), "sections": 3}), errno.EINVAL, C["sections"],
           cmd="channel-new")
    points("an existing id", S.encode("channel", {"id": cid}), errno.EEXIST, C["id"], cmd="channel-new")
    ok("claim", {"id": [cid], "epoch": 9})
    points("a fenced claim", S.encode("channel", {"id": [cid], "epoch": 5}), errno.ESTALE, C["epoch"],
           cmd="claim")
    r = raw().request("update", S.encode("update", {"channel": cid, "epoch": 9, "cookie": 0}))
    if r.error != errno.EINVAL or r.extack.get("miss-type") != U["opid"] or "opid" not in r.extack.get("msg", ""):
        probs.append(f"no opid: {r.describe()}")
    expect(not probs, "; ".join(probs))


@case("more: a run of updates in one send is answered and published once, by its last ACK")
def _():
    cid = new_chan(sections=16)
    lis = rawsock(rcvbuf=1 << 20)
    lis.subscribe("acks")
    rs = rawsock(rcvbuf=1 << 20)
    more = struct.pack("HH", 4, S.attr("update", "more"))
    sent = []
    for i in range(1, 6):
        payload = H.update_payload(cid, 0, i, [("set", f"m{i}")], 16)
        sent.append(rs.message("update", payload + (more if i < 5 else b""), flags=H.NLM_F_REQUEST))
    # An unfinished run (4 quiet, then a refused one that ends it).
    for i in (6, 7):
        payload = H.update_payload(cid, 0, i if i == 6 else 99, [("set", f"m{i}")], 16)
        sent.append(rs.message("update", payload + (more if i == 6 else b""), flags=H.NLM_F_REQUEST))
    rs.send(b"".join(d for _, d in sent))
    last, refused = rs.transact([(sent[4][0], sent[4][1], True), (sent[6][0], sent[6][1], True)],
                                send=False)
    expect(not last.error and len(last.msgs) == 1, f"last of the run: {last.describe()}")
    ack = rs.decode("update", last.msgs[0][1])
    expect(ack == {"channel": cid, "epoch": 0, "opid": 5, "cookie": 1 << H.section_of("m5", 16)}, f"ACK {ack}")
    expect(refused.error == errno.EPROTO and refused.cookie_u64() == 6, f"gapped end: {refused.describe()}")
    time.sleep(0.3)
    rs.drain()
    quiet = {seq for seq, _ in sent[:4] + sent[5:6]}
    stray = [m for m in rs.ntf if m[2] in quiet]
    expect(not stray, f"quiet updates were answered: {stray}")
    expect(chan(cid)["register"] == 6, f"register {chan(cid)['register']}, want 6")
    lis.wait_ntf(1, cmds={S.cmd("ack-ntf")})
    time.sleep(0.3)
    lis.drain()
    got = [raw().decode("update", b[4:]) for (t, f, s2, p, b) in lis.ntf
           if t == lis.family_id and b[0] == S.cmd("ack-ntf")]
    expect([a["opid"] for a in got] == [5], f"published ACKs {got}, want opid 5 alone")


@case("cookies: OR of the logged cookies in (after-opid, register]")
def _():
    cid = new_chan()
    cookies = [0]
    for i in range(1, 6):
        nm = f"ck{i * 7}"
        update_ok(cid, 0, i, [("set", nm)], 64)
        cookies.append(1 << H.section_of(nm, 64))
    for after in range(0, 6):
        want = 0
        for i in range(after + 1, 6):
            want |= cookies[i]
        r = ok("cookies", {"channel": cid, "after-opid": after})
        expect(r == {"channel": cid, "cookie": want, "register": 5}, f"after {after}: {r}, want cookie {want:#x}")
    fresh = new_chan()
    r = ok("cookies", {"channel": fresh, "after-opid": 0})
    expect(r == {"channel": fresh, "cookie": 0, "register": 0}, f"fresh channel: {r}")
    fails(errno.ENOENT, "cookies", {"channel": next(_ids), "after-opid": 0})


@case(f"cookies: log-short once cookie_log_len={LOG_LEN} no longer covers the range")
def _():
    cid = new_chan()
    cookies = [0]
    for i in range(1, 13):
        nm = f"ls{i}"
        update_ok(cid, 0, i, [("set", nm)], 64)
        cookies.append(1 << H.section_of(nm, 64))
    ch = chan(cid)
    expect(ch["log-first-opid"] == 12 - LOG_LEN + 1, f"log-first-opid {ch['log-first-opid']}, want 5")
    for after in (4, 8, 11, 12):
        want = 0
        for i in range(after + 1, 13):
            want |= cookies[i]
        r = ok("cookies", {"channel": cid, "after-opid": after})
        expect(r == {"channel": cid, "cookie": want, "register": 12}, f"after {after}: {r}, want {want:#x}")
    for after in (0, 1, 3):
        r = ok("cookies", {"channel": cid, "after-opid": after})
        expect(r == {"channel": cid, "log-short": True, "register": 12},
               f"after {after}: {r}, want log-short and no cookie")
    y = c().do("cookies", {"channel": cid, "after-opid": 2})
    expect(y.get("log-short") is True and "cookie" not in y, f"YNL {y}")


def replay_setup(sections=8, n=40, seed=11):
    cid = new_chan(sections=sections)
    m = H.Model(sections)
    reg = fill(cid, sections, m, n, random.Random(seed))
    return cid, m, reg


@case("replay: commit replaces exactly the masked sections and sets the register")
def _():
    cid, m, reg = replay_setup()
    counts = m.counts()
    sa, sb = sorted(range(8), key=lambda s: -counts[s])[:2]
    mask = 1 << sa | 1 << sb
    lis = rawsock(rcvbuf=4 << 20)
    lis.subscribe("acks")
    olds = sorted(m.in_section(sa), key=lambda r: r["name"])
    staged = [dict(olds[0], mtu=1111)] + olds[2:]
    taken = {r["name"] for r in m.values()}
    for k in range(3):
        nm = name_in(sa, 8, "new", skip=taken)
        taken.add(nm)
        staged.append({"name": nm, "desc": f"staged {k}", "addr": [H.v4(f"10.9.0.{k}", 24)]})
    before_chan = chan(cid)
    rp = client()
    rp.do("replay-begin", {"channel": cid, "epoch": 0, "opid": reg + 4, "sections": mask})
    half = len(staged) // 2
    rp.do("replay-entries", {"channel": cid, "iface": [H.iface_attrs(r) for r in staged[:half]]})
    rp.do("replay-entries", {"channel": cid, "iface": [H.iface_attrs(r) for r in staged[half:]]})
    check(cid, m)  # staging is invisible
    expect(chan(cid) == before_chan, "channel changed before the commit")
    reply = rp.do("replay-commit", {"channel": cid})
    expect(reply == {"channel": cid, "epoch": 0, "opid": reg + 4, "sections": mask}, f"commit reply {reply}")
    m.replace_sections(mask, staged)
    check(cid, m)
    ch = chan(cid)
    expect(ch["register"] == reg + 4, f"register {ch['register']}, want {reg + 4}")
    for s in range(8):
        if not mask >> s & 1:
            expect(ch["section"][s] == before_chan["section"][s], f"unmasked section {s} changed")
    acks = [raw().decode("update", p) for _, p in lis.wait_ntf(1, cmds={S.cmd("ack-ntf")})]
    expect({"channel": cid, "epoch": 0, "opid": reg + 4, "cookie": mask} in acks,
           f"no ack-ntf {{channel, opid {reg + 4}, cookie {mask:#x}}} for the commit: {acks}")
    update_ok(cid, 0, reg + 5, [("set", "after")], 8)
    rp.do("replay-begin", {"channel": cid, "epoch": 0, "opid": reg + 5, "sections": 1})
    rp.do("replay-abort", {"channel": cid})


@case("replay with nothing staged empties the masked sections")
def _():
    cid, m, reg = replay_setup(seed=12)
    counts = m.counts()
    full = [s for s in range(8) if counts[s]][:3]
    mask = sum(1 << s for s in full)
    ok("replay-begin", {"channel": cid, "epoch": 0, "opid": reg, "sections": mask})
    r = ok("replay-commit", {"channel": cid})
    expect(r == {"channel": cid, "epoch": 0, "opid": reg, "sections": mask}, f"commit reply {r}")
    m.replace_sections(mask, [])
    check(cid, m)
    ch = chan(cid)
    expect(all(ch["section"][s] == {"index": s, "entries": 0, "digest": 0} for s in full), "sections not empty")


@case("replay-abort leaves the channel untouched and closes the replay")
def _():
    cid, m, reg = replay_setup(seed=13)
    before = H.snapshot(raw())
    rp = rawsock()
    for r in (rp.request("replay-begin", {"channel": cid, "epoch": 0, "opid": reg + 3, "sections": 0xFF}),
              rp.request("replay-entries", {"channel": cid, "iface": [{"name": "zz"}, {"name": "yy"}]}),
              rp.request("replay-abort", {"channel": cid})):
        expect(not r.error, r.describe())
    same_state(before, "an aborted replay")
    r = rp.request("replay-commit", {"channel": cid})
    expect(r.error, "replay-commit after replay-abort succeeded")
    same_state(before, "replay-commit after an abort")
    r = rp.request("replay-begin", {"channel": cid, "epoch": 0, "opid": reg, "sections": 1})
    expect(not r.error, f"a new replay-begin after the abort: {r.describe()}")
    rp.request("replay-abort", {"channel": cid})


@case("closing the socket aborts its replay")
def _():
    cid, m, reg = replay_setup(seed=14)
    before = H.snapshot(raw())
    a = H.RawGenl()
    for r in (a.request("replay-begin", {"channel": cid, "epoch": 0, "opid": reg + 3, "sections": 0xFF}),
              a.request("replay-entries", {"channel": cid, "iface": [{"name": f"z{i}"} for i in range(30)]})):
        expect(not r.error, r.describe())
    a.close()
    time.sleep(0.2)
    same_state(before, "a replay whose socket closed")
    b = rawsock()
    r = b.request("replay-begin", {"channel": cid, "epoch": 0, "opid": reg, "sections": 0xFF})
    expect(not r.error, f"replay-begin on the channel after the first socket closed: {r.describe()}")
    r = b.request("replay-commit", {"channel": cid})
    expect(not r.error, r.describe())
    m.replace_sections(0xFF, [])
    check(cid, m)


@case("replay-begin while a replay is open: EBUSY (same socket, same channel from another socket)")
def _():
    c1, _, reg1 = replay_setup(seed=15, n=8)
    c2, _, reg2 = replay_setup(seed=16, n=8)
    a, b = rawsock(), rawsock()
    beg = {"channel": c1, "epoch": 0, "opid": reg1, "sections": 1}
    r = a.request("replay-begin", beg)
    expect(not r.error, r.describe())
    probs = []
    for what, sock, attrs in (("same socket, same channel", a, beg),
                              ("same socket, other channel", a, dict(beg, channel=c2, opid=reg2)),
                              ("other socket, same channel", b, beg)):
        r = sock.request("replay-begin", attrs)
        if r.error != errno.EBUSY:
            probs.append(f"{what}: {errname(r.error)}, want EBUSY")
        if not r.error:
            sock.request("replay-abort", {"channel": attrs["channel"]})
    r = a.request("replay-abort", {"channel": c1})
    expect(not r.error, f"abort: {r.describe()}")
    r = b.request("replay-begin", beg)
    expect(not r.error, f"begin from the other socket after the abort: {r.describe()}")
    b.request("replay-abort", {"channel": c1})
    expect(not probs, "; ".join(probs))


@case("replay-entries: a record outside the replayed sections or invalid gets EINVAL")
def _():
    cid, m, reg = replay_setup(seed=17)
    before = H.snapshot(raw())
    rp = rawsock()
    r = rp.request("replay-begin", {"channel": cid, "epoch": 0, "opid": reg + 1, "sections": 1 << 3})
    expect(not r.error, r.describe())
    inside = name_in(3, 8, "in")
    outside = name_in(5, 8, "out")
    r = rp.request("replay-entries", {"channel": cid, "iface": [{"name": inside}]})
    expect(not r.error, f"an entry inside the mask: {r.describe()}")
    for what, ifs in (("a name in section 5 with mask 1<<3", [{"name": outside}]),
                      ("one good and one outside", [{"name": inside}, {"name": outside}]),
                      ("an invalid name", [{"name": "a/b"}]),
                      ("an IPv4 address of 5 bytes", [{"name": inside, "addr": [{"family": 4, "prefix-len": 1,
                                                                                  "address": bytes(5)}]}])):
        r = rp.request("replay-entries", {"channel": cid, "iface": ifs})
        expect(r.error == errno.EINVAL, f"{what}: {errname(r.error)}, want EINVAL")
    r = rp.request("replay-entries", {"channel": next(_ids), "iface": [{"name": inside}]})
    expect(r.error, "replay-entries for a channel without a replay succeeded")
    rp.request("replay-abort", {"channel": cid})
    same_state(before, "refused replay entries")


@case("replay-begin refuses an opid below the register, a stale epoch (ESTALE), foreign sections, no channel")
def _():
    cid, m, reg = replay_setup(seed=18, n=16)
    ok("claim", {"id": [cid], "epoch": 3})
    rp = rawsock()
    before = H.snapshot(raw())
    probs = []
    for what, attrs, want in (
            ("opid below the register", {"opid": reg - 1}, None),
            ("epoch below the owner", {"epoch": 2}, errno.ESTALE),
            ("section 8 of 8", {"sections": 1 << 8}, errno.EINVAL),
            ("sections beyond 8", {"sections": 0x1FF}, errno.EINVAL),
            ("unknown channel", {"channel": next(_ids)}, errno.ENOENT)):
        attrs = dict({"channel": cid, "epoch": 3, "opid": reg, "sections": 1}, **attrs)
        r = rp.request("replay-begin", attrs)
        if not r.error:
            probs.append(f"{what}: accepted")
            rp.request("replay-abort", {"channel": attrs["channel"]})
        elif want is not None and r.error != want:
            probs.append(f"{what}: {errname(r.error)}, want {errname(want)}")
        else:
            T.diag(f"replay-begin with {what}: {errname(r.error)}")
    same_state(before, "refused replay-begins")
    r = rp.request("replay-begin", {"channel": cid, "epoch": 4, "opid": reg, "sections": 1})
    expect(not r.error, f"a valid begin after the refusals: {r.describe()}")
    rp.request("replay-abort", {"channel": cid})
    expect(not probs, "; ".join(probs))


@case("entry-get do: the record with its section; ENOENT for an absent name or channel")
def _():
    cid = new_chan(sections=16)
    rec = {"name": "veth0", "mtu": 1450, "vlan": 100, "addr": [H.v6("fe80::1", 64)]}
    update_ok(cid, 0, 1, [("set", rec)], 16)
    e = ok("entry-get", {"channel": cid, "name": "veth0"})
    expect(set(e) == {"channel", "iface"}, f"reply attributes {sorted(e)}")
    expect(H.canonical(e["iface"]) == H.canonical(rec), f"record {e}")
    expect(e["iface"]["section"] == H.section_of("veth0", 16), f"section {e['iface']['section']}")
    fails(errno.ENOENT, "entry-get", {"channel": cid, "name": "veth1"})
    fails(errno.ENOENT, "entry-get", {"channel": next(_ids), "name": "veth0"})
    y = c().do("entry-get", {"channel": cid, "name": "veth0"})
    expect(H.canonical(y["iface"]) == H.canonical(rec), f"YNL view {y}")


@case("entry-get dump: one channel, one section of it, every channel")
def _():
    a, b = new_chan(sections=8), new_chan(sections=64)
    ma, mb = H.Model(8), H.Model(64)
    fill(a, 8, ma, 30, random.Random(21), tag="ea")
    fill(b, 64, mb, 10, random.Random(22), tag="eb")
    d = H.entry_dump(raw(), a)
    expect(all(e["channel"] == a for e in d), "foreign records in a channel dump")
    expect(sorted(H.canonical(e["iface"]) for e in d) == sorted(H.canonical(r) for r in ma.values()),
           "channel dump differs from the model")
    for s in range(8):
        d = H.entry_dump(raw(), a, s)
        got = sorted(e["iface"]["name"] for e in d)
        want = sorted(r["name"] for r in ma.in_section(s))
        expect(got == want, f"section {s}: {got}, want {want}")
        expect(all(e["iface"]["section"] == s for e in d), f"section {s}: records claim other sections")
    s = H.section_of("eb3", 64)
    got = sorted(e["iface"]["name"] for e in H.entry_dump(raw(), b, s))
    expect(got == sorted(r["name"] for r in mb.in_section(s)), f"64-section channel, section {s}: {got}")
    every = H.entry_dump(raw())
    mine = sorted((e["channel"], e["iface"]["name"]) for e in every if e["channel"] in (a, b))
    want = sorted([(a, n) for n in ma.records] + [(b, n) for n in mb.records])
    expect(mine == want, f"dump of every channel: {len(mine)} of our records, want {len(want)}")
    y = c().dump("entry-get", {"channel": a, "section": 2})
    expect(sorted(e["iface"]["name"] for e in y) == sorted(r["name"] for r in ma.in_section(2)), "YNL dump")


@case("digests equal the Python reference after random sets and dels (64, 8, 1 sections)")
def _():
    rng = random.Random(1234)
    for n in (64, 8, 1):
        cid = new_chan(sections=n)
        m = H.Model(n)
        opid = 0
        for _ in range(60):
            ops = []
            for _ in range(rng.randint(1, 8)):
                nm = f"g{rng.randrange(70)}"
                ops.append(("del", nm) if rng.random() < 0.3 else ("set", H.random_record(rng, nm)))
            opid += 1
            update_ok(cid, 0, opid, ops, n)
            m.apply(ops)
        check(cid, m)
        T.diag(f"{n} sections: {len(m.records)} records after {opid} updates, digests match")
        names = list(m.records)
        for i in range(0, len(names), 16):
            opid += 1
            ops = [("del", x) for x in names[i:i + 16]]
            update_ok(cid, 0, opid, ops, n)
            m.apply(ops)
        ch = chan(cid)
        expect(ch["entries"] == 0 and all(s["digest"] == 0 and s["entries"] == 0 for s in ch["section"]),
               f"{n} sections: not empty after deleting everything: {ch}")


@case("desc carries any byte but NUL, up to 64; names of printable ASCII up to 15")
def _():
    cid = new_chan(sections=8)
    m = H.Model(8)
    recs = [{"name": "a"}, {"name": "!~#$%^&*()_+=.:"}, {"name": "x" * 15},
            {"name": "d1", "desc": "\xff\x01\x7f tab\tend"}, {"name": "d2", "desc": "y" * 64}]
    opid = 0
    for r in recs:
        opid += 1
        update_ok(cid, 0, opid, [("set", r)], 8)
        m.apply([("set", r)])
    check(cid, m)


@case("addresses: up to 16, returned sorted, duplicates and a 17th refused")
def _():
    cid = new_chan(sections=8)
    addrs = [H.v4(f"10.0.{i}.1", 24) for i in range(8)] + [H.v6(f"2001:db8::{i:x}", 64) for i in range(8)]
    random.Random(3).shuffle(addrs)
    update_ok(cid, 0, 1, [("set", {"name": "many", "addr": addrs})], 8)
    e = ok("entry-get", {"channel": cid, "name": "many"})
    keys = [H.addr_key(a) for a in e["iface"]["addr"]]
    expect(keys == sorted(H.addr_key(a) for a in addrs), "addresses not returned in canonical order")
    before = H.snapshot(raw())
    update_fails((errno.EINVAL, errno.E2BIG), cid, 0, 2,
                 [("set", {"name": "many", "addr": addrs + [H.v4("10.9.9.9", 8)]})], 8, what="17 addresses")
    update_fails(errno.EINVAL, cid, 0, 2, [("set", {"name": "dup", "addr": [H.v6("::1", 128)] * 2})], 8,
                 what="duplicate addresses")
    update_fails(errno.EINVAL, cid, 0, 2, [("set", {"name": "p", "addr": [H.v6("::1", 129)]})], 8,
                 what="IPv6 prefix 129")
    same_state(before, "refused address lists")
    update_ok(cid, 0, 2, [("set", {"name": "edge", "addr": [H.v4("0.0.0.0", 0), H.v6("::", 128)]})], 8)


@case("stats: per-command ok/failed, error classes, acks-published and ops-applied move")
def _():
    s0 = stats()
    cid = new_chan(sections=8)
    cid2 = new_chan(sections=8)
    fails(errno.EEXIST, "channel-new", {"id": cid})
    update_ok(cid, 0, 1, [("set", "a"), ("set", "b"), ("del", "c")], 8)
    update_fails(errno.EPROTO, cid, 0, 5, [("set", "a")], 8)
    ok("claim", {"id": [cid], "epoch": 10})
    update_fails(errno.ESTALE, cid, 1, 2, [("set", "a")], 8)
    update_fails(errno.EINVAL, cid, 10, 2, [("set", "a")], 8, cookie=0)
    update_fails(errno.ENOENT, next(_ids), 0, 1, [("set", "a")], 8)
    fails(errno.ENOENT, "channel-get", {"id": next(_ids)})
    a, b = rawsock(), rawsock()
    expect(not a.request("replay-begin", {"channel": cid2, "epoch": 0, "opid": 0, "sections": 1}).error, "begin")
    expect(b.request("replay-begin", {"channel": cid2, "epoch": 0, "opid": 0, "sections": 1}).error == errno.EBUSY,
           "second begin not EBUSY")
    a.request("replay-abort", {"channel": cid2})
    s1 = stats()

    def cmdmap(s):
        return {x["cmd"]: x for x in s.get("cmd", [])}

    def errmap(s):
        return {x["class"]: x["count"] for x in s.get("err", [])}

    c0, c1 = cmdmap(s0), cmdmap(s1)

    def delta(cmd, k):
        n = S.cmd(cmd)
        return c1.get(n, {}).get(k, 0) - c0.get(n, {}).get(k, 0)

    probs = []
    for cmd, k, want in (("channel-new", "ok", 2), ("channel-new", "failed", 1), ("update", "ok", 1),
                         ("update", "failed", 4), ("claim", "ok", 1), ("channel-get", "failed", 1),
                         ("replay-begin", "ok", 1), ("replay-begin", "failed", 1), ("replay-abort", "ok", 1)):
        if delta(cmd, k) != want:
            probs.append(f"{cmd} {k} moved by {delta(cmd, k)}, want {want}")
    e0, e1 = errmap(s0), errmap(s1)
    cls = S.enums["err-class"]
    for name, want in (("exists", 1), ("gap", 1), ("fenced", 1), ("invalid", 1), ("noent", 2), ("busy", 1),
                       ("limit", 0), ("nomem", 0)):
        d = e1.get(cls[name], 0) - e0.get(cls[name], 0)
        if d != want:
            probs.append(f"err {name} moved by {d}, want {want}")
    for k, want in (("ops-applied", 3), ("acks-published", 1)):
        d = s1.get(k, 0) - s0.get(k, 0)
        if d != want:
            probs.append(f"{k} moved by {d}, want {want}")
    expect(not probs, "; ".join(probs) + f"\nstats before {s0}\nstats after {s1}")


@case("batching: 256 updates in one sendmsg are all ACKed, in order")
def _():
    cid = new_chan()
    rs = rawsock(rcvbuf=16 << 20)
    m = H.Model(64)
    reqs = []
    opss = []
    for i in range(1, 257):
        ops = [("set", {"name": f"b{i % 100}", "mtu": 1000 + i})]
        opss.append(ops)
        seq, data = rs.message("update", H.update_payload(cid, 0, i, ops, 64))
        reqs.append((seq, data, True))
    replies = rs.transact(reqs, timeout=60)
    bad = [r.describe() for r in replies if r.timeout or r.error or len(r.msgs) != 1]
    expect(not bad, f"{len(bad)} of 256 not answered with one ACK: {bad[:5]}")
    for i, r in enumerate(replies):
        ack = rs.decode("update", r.msgs[0][1])
        want = {"channel": cid, "epoch": 0, "opid": i + 1, "cookie": H.cookie_of(H.ops_names(opss[i]), 64)}
        expect(ack == want, f"reply {i}: {ack}, want {want}")
        m.apply(opss[i])
    expect([r.arrival for r in replies] == list(range(256)), "answers not in request order")
    expect(chan(cid)["register"] == 256, f"register {chan(cid)['register']}")
    check(cid, m)
    # without NLM_F_ACK each update is answered by its reply alone
    reqs = []
    for i in range(257, 257 + 64):
        seq, data = rs.message("update", H.update_payload(cid, 0, i, [("set", "nb")], 64),
                               flags=H.NLM_F_REQUEST)
        reqs.append((seq, data, False))
    replies = rs.transact(reqs, timeout=30)
    expect(all(not r.error and len(r.msgs) == 1 for r in replies), "a request without NLM_F_ACK not answered")
    time.sleep(0.2)
    rs.drain()
    expect(not rs.ntf, f"{len(rs.ntf)} stray messages after the replies")
    expect(chan(cid)["register"] == 256 + 64, "register after the second batch")


@case("batching: a gap inside a batch fails only the updates after it; duplicates inside are re-ACKed")
def _():
    cid = new_chan(sections=8)
    rs = rawsock(rcvbuf=4 << 20)

    def batch(opids):
        reqs = []
        for o in opids:
            seq, data = rs.message("update", H.update_payload(cid, 0, o, [("set", f"o{o}")], 8))
            reqs.append((seq, data, True))
        return rs.transact(reqs)

    rep = batch([1, 2, 3, 4, 5, 7, 8])
    expect(all(not r.error for r in rep[:5]), f"1..5: {[r.describe() for r in rep[:5]]}")
    for r in rep[5:]:
        expect(r.error == errno.EPROTO and r.cookie == struct.pack("Q", 5), f"after the gap: {r.describe()}")
    rep = batch([6, 7, 8])
    expect(all(not r.error for r in rep), f"6..8: {[r.describe() for r in rep]}")
    rep = batch([9, 9, 10, 3])
    acks = [rs.decode("update", r.msgs[0][1]) if r.msgs else r.describe() for r in rep]
    expect([a.get("duplicate", False) if isinstance(a, dict) else a for a in acks] == [False, True, False, True],
           f"acks {acks}")
    expect(chan(cid)["register"] == 10, "register")


def _unpriv_mutations(cid, reg):
    r = H.RawGenl()
    out = {}
    for what, cmd, attrs in (
            ("channel-new", "channel-new", {"id": 999999}),
            ("channel-del", "channel-del", {"id": cid}),
            ("update", "update", H.update_payload(cid, 0, reg + 1, [("set", "u")], 8)),
            ("claim", "claim", {"id": [cid], "epoch": 50}),
            ("claim all", "claim", {"all": True, "epoch": 50}),
            ("replay-begin", "replay-begin", {"channel": cid, "epoch": 0, "opid": reg, "sections": 1}),
            ("replay-entries", "replay-entries", {"channel": cid, "iface": [{"name": "u"}]}),
            ("replay-commit", "replay-commit", {"channel": cid}),
            ("replay-abort", "replay-abort", {"channel": cid})):
        out[what] = r.request(cmd, attrs).error
    return out


@case("CAP_NET_ADMIN: every mutating command from an unprivileged caller gets EPERM, nothing changes")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 0, 1, [("set", "p")], 8)
    before = H.snapshot(raw())
    res = H.run_unprivileged(_unpriv_mutations, cid, 1)
    bad = {k: errname(v) for k, v in res.items() if v != errno.EPERM}
    expect(not bad, f"want EPERM, got {bad}")
    same_state(before, "unprivileged mutating commands")


def _unpriv_reads(cid):
    r = H.RawGenl()
    out = {}
    for what, cmd, attrs, dump in (("info", "info", {}, False), ("stats", "stats", {}, False),
                                   ("channel-get", "channel-get", {"id": cid}, False),
                                   ("channel-get dump", "channel-get", {}, True),
                                   ("entry-get", "entry-get", {"channel": cid, "name": "p"}, False),
                                   ("entry-get dump", "entry-get", {"channel": cid}, True),
                                   ("cookies", "cookies", {"channel": cid, "after-opid": 0}, False)):
        x = r.request(cmd, attrs, dump=dump)
        out[what] = [x.error, len(x.msgs)]
    return out


@case("unprivileged callers can read: info, stats, channel-get, entry-get, cookies")
def _():
    cid = new_chan(sections=8)
    update_ok(cid, 0, 1, [("set", "p")], 8)
    res = H.run_unprivileged(_unpriv_reads, cid)
    bad = {k: (errname(e), n) for k, (e, n) in res.items() if e or n < 1}
    expect(not bad, f"unprivileged reads failed: {bad}")


@case("a socket opened with CAP_NET_ADMIN and used after dropping it gets EPERM")
def _():
    cid = new_chan(sections=8)
    pre = rawsock()
    before = H.snapshot(raw())

    def use():
        return pre.request("update", H.update_payload(cid, 0, 1, [("set", "u")], 8)).error

    e = H.run_unprivileged(use)
    expect(e == errno.EPERM, f"update on an inherited root socket after setuid: {errname(e)}")
    same_state(before, "an update on an inherited socket")


@case("info counts channels and records")
def _():
    a, b = new_chan(sections=8), new_chan(sections=2)
    update_ok(a, 0, 1, [("set", f"i{k}") for k in range(3)], 8)
    update_ok(b, 0, 1, [("set", f"j{k}") for k in range(5)], 2)
    i = c().do("info")
    d = H.channel_dump(raw())
    expect(i["channels"] == len(d) and i["entries"] == sum(x["entries"] for x in d), f"info {i}")


@case("max_entries=8 (module reloaded): an update past the limit fails whole, ENOSPC or E2BIG")
def _():
    reload(f"max_entries=8")
    cid = new_chan(sections=8)
    update_ok(cid, 0, 1, [("set", f"m{k}") for k in range(8)], 8)
    before = H.snapshot(raw())
    r = update_fails((errno.ENOSPC, errno.E2BIG), cid, 0, 2, [("set", {"name": "m0", "mtu": 2000}), ("set", "m8")],
                     8, what="a 9th record")
    T.diag(f"9th record: {errname(r.error)}, extack {r.extack}")
    same_state(before, "an update past max_entries")
    rp = rawsock()
    r1 = rp.request("replay-begin", {"channel": cid, "epoch": 0, "opid": 1, "sections": 1})
    expect(not r1.error, f"replay-begin: {r1.describe()}")
    nm = [name_in(0, 8, "q", skip={f"m{k}" for k in range(8)})]
    for k in range(12):
        nm.append(name_in(0, 8, "q", skip=set(nm) | {f"m{k}" for k in range(8)}))
    r2 = rp.request("replay-entries", {"channel": cid, "iface": [{"name": x} for x in nm]})
    if r2.error:
        # refused while staging: the replay stays open with nothing staged
        T.diag(f"staging past max_entries: {errname(r2.error)}")
        rp.request("replay-abort", {"channel": cid})
    else:
        r3 = rp.request("replay-commit", {"channel": cid})
        T.diag(f"committing past max_entries: {errname(r3.error)}")
        expect(r3.error in (errno.ENOSPC, errno.E2BIG), f"replay-commit past max_entries: {r3.describe()}")
    same_state(before, "a replay past max_entries")
    update_ok(cid, 0, 2, [("del", "m0"), ("set", "m8")], 8)


def reload(*extra):
    cleanup()
    for k in ("c", "raw"):
        if ST[k]:
            ST[k].close()
            ST[k] = None
    H.module_load(*PARAMS, *extra)
    ST["c"] = H.Client()
    ST["raw"] = H.RawGenl()


@case("module unloads; the family is gone")
def _():
    cleanup()
    for k in ("c", "raw"):
        ST[k].close()
        ST[k] = None
    H.module_unload()
    expect(not os.path.exists("/sys/module/hasync"), "module still loaded")
    try:
        H.RawGenl().close()
        raise Fail("family still resolves after unload")
    except H.FamilyMissing:
        pass


def setup():
    H.module_load(*PARAMS)
    expect(H.module_param("cookie_log_len") == str(LOG_LEN), "cookie_log_len not applied")
    ST["c"] = H.Client(validate=True)
    ST["raw"] = H.RawGenl()


def teardown():
    for k in ("c", "raw"):
        if ST[k]:
            ST[k].close()
    if os.path.exists("/sys/module/hasync"):
        H.module_unload()


if __name__ == "__main__":
    sys.exit(T.run(setup, teardown))
