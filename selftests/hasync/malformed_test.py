#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed messages to the hasync family.  Every message below must be
answered with an error (never a reply or an ACK; for a netlink header whose
length lies, silence is the kernel core's answer), and afterwards the channel
table, registers, epochs and digests must be byte-identical to before.

Each malformed message is built from a valid one with exactly one defect, so
that a kernel ignoring the defect would apply it.  One KTAP case per
category; the number of messages of each category is reported as a
diagnostic.
"""

import collections
import errno
import os
import random
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hasync_nl as H  # noqa: E402
from hasync_nl import Fail, expect, errname, nla, nla_u8, nla_u16, nla_u32  # noqa: E402

T = H.Ktap()
S = H.spec()
REQ_ACK = H.NLM_F_REQUEST | H.NLM_F_ACK
SOCK = {}
TOTAL = [0]
A, B, C, D = 11, 12, 13, 14  # channels: 64, 8, 1 and 1 sections; D is only ever deleted
SEC = {A: 64, B: 8, C: 1, D: 1}
NAME = b"mal0"


class Ctx:
    def refresh(self):
        for cid, key in ((A, "a"), (B, "b"), (C, "c")):
            ch = H.channel_info(SOCK["P"], cid)
            setattr(self, "reg" + key, ch["register"])
            setattr(self, "ep" + key, ch["epoch"])
        return self


CTX = Ctx()


def aid(set_, name):
    return S.attr(set_, name)


def uint(set_, name, v):
    return nla(aid(set_, name), struct.pack("I" if v < (1 << 32) else "Q", v))


def u32(set_, name, v):
    return nla_u32(aid(set_, name), v)


def sz(set_, name, n, fill=1):
    return nla(aid(set_, name), bytes([fill]) * n)


def string(set_, name, s, nul=True):
    return nla(aid(set_, name), H._bytes(s) + (b"\0" if nul else b""))


def join(d):
    return b"".join(v for v in d.values() if v is not None)


def addr_fields(fam=4, plen=24, address=b"\x0a\x01\x02\x03"):
    return {"family": nla_u8(aid("addr", "family"), fam), "prefix-len": nla_u8(aid("addr", "prefix-len"), plen),
            "address": nla(aid("addr", "address"), address)}


def addr_nest(fields=None, nested=True):
    return nla(aid("iface", "addr"), join(fields or addr_fields()), nested=nested)


def iface_fields(name=NAME):
    return collections.OrderedDict([
        ("name", nla(aid("iface", "name"), H._bytes(name) + b"\0")),
        ("admin-up", nla_u8(aid("iface", "admin-up"), 1)),
        ("mtu", u32("iface", "mtu", 1400)),
        ("mac", nla(aid("iface", "mac"), bytes([2, 0, 0, 0, 0, 9]))),
        ("vlan", nla_u16(aid("iface", "vlan"), 10)),
        ("addr", addr_nest() + addr_nest(addr_fields(6, 64, bytes.fromhex("20010db8" + "00" * 11 + "09")))),
        ("speed", u32("iface", "speed", 25000)),
        # Last: the length lies below reach past the nest's end from here.
        ("desc", string("iface", "desc", "malformed")),
    ])


def iface_nest(fields=None, atype=None, nested=True):
    return nla(aid("op", "iface") if atype is None else atype, join(fields or iface_fields()), nested=nested)


def op_nest(kind=0, iface=None, fields=None, nested=True):
    f = fields if fields is not None else {"kind": u32("op", "kind", kind), "iface": iface or iface_nest()}
    return nla(aid("update", "op"), join(f), nested=nested)


def update_fields(ctx, ops=None, names=(NAME,), cid=A):
    reg, ep = (ctx.rega, ctx.epa) if cid == A else (ctx.regb, ctx.epb) if cid == B else (ctx.regc, ctx.epc)
    return collections.OrderedDict([
        ("channel", u32("update", "channel", cid)),
        ("epoch", u32("update", "epoch", ep)),
        ("opid", uint("update", "opid", reg + 1)),
        ("cookie", uint("update", "cookie", H.cookie_of(names, SEC[cid]))),
        ("op", op_nest() if ops is None else ops),
    ])


def replay_iface(fields=None, nested=True):
    return iface_nest(fields, atype=aid("replay", "iface"), nested=nested)


def entries_fields(ifaces=None):
    return collections.OrderedDict([("channel", u32("replay", "channel", B)),
                                    ("iface", replay_iface() if ifaces is None else ifaces)])


# The valid request of every command with a policy, as ordered attributes,
# and the socket it goes to: P is plain, Q holds an open replay on B.
def valid(cmd, ctx):
    if cmd == "channel-new":
        return {"id": u32("channel", "id", 77), "name": string("channel", "name", "new"),
                "sections": u32("channel", "sections", 8)}
    if cmd == "channel-del":
        return {"id": u32("channel", "id", D)}
    if cmd == "channel-get":
        return {"id": u32("channel", "id", A)}
    if cmd == "update":
        return update_fields(ctx)
    if cmd == "claim":
        return {"id": u32("channel", "id", A), "epoch": u32("channel", "epoch", ctx.epa + 1)}
    if cmd == "cookies":
        return {"channel": u32("cookies", "channel", A), "after-opid": uint("cookies", "after-opid", 0)}
    if cmd == "replay-begin":
        return {"channel": u32("replay", "channel", A), "epoch": u32("replay", "epoch", ctx.epa),
                "opid": uint("replay", "opid", ctx.rega), "sections": uint("replay", "sections", 1)}
    if cmd == "replay-entries":
        return entries_fields()
    if cmd in ("replay-commit", "replay-abort"):
        return {"channel": u32("replay", "channel", B)}
    if cmd == "entry-get":
        return {"channel": u32("entry", "channel", A), "name": string("entry", "name", "e0")}
    if cmd == "entry-get-dump":
        return {"channel": u32("entry", "channel", A), "section": u32("entry", "section", 1)}
    raise KeyError(cmd)


POLICY_CMDS = ["channel-new", "channel-del", "channel-get", "update", "claim", "cookies", "replay-begin",
               "replay-entries", "replay-commit", "replay-abort", "entry-get", "entry-get-dump"]
SET_OF = {"channel-new": "channel", "channel-del": "channel", "channel-get": "channel", "update": "update",
          "claim": "channel", "cookies": "cookies", "replay-begin": "replay", "replay-entries": "replay",
          "replay-commit": "replay", "replay-abort": "replay", "entry-get": "entry", "entry-get-dump": "entry"}
Q_CMDS = ("replay-entries", "replay-commit", "replay-abort")


class Case:
    def __init__(self, label, cmd, payload, sock=None, flags=None, reserved=0, length=None, send_len=None,
                 silence_ok=False, dump=None):
        self.label = label
        self.dump = cmd == "entry-get-dump" if dump is None else dump
        self.cmd = "entry-get" if cmd == "entry-get-dump" else cmd
        self.payload = payload
        self.sock = sock or ("Q" if cmd in Q_CMDS else "P")
        self.flags = flags
        self.reserved = reserved
        self.length = length
        self.send_len = send_len
        self.silence_ok = silence_ok

    def build(self, sock, ctx):
        payload = self.payload(ctx) if callable(self.payload) else self.payload
        if isinstance(payload, dict):
            payload = join(payload)
        flags = self.flags if self.flags is not None else REQ_ACK | (H.NLM_F_DUMP if self.dump else 0)
        seq, data = sock.message(self.cmd, payload, flags=flags, reserved=self.reserved, length=self.length)
        if self.send_len is not None:
            data = data[:self.send_len]
        return seq, data


def mutate(cmd, key, value):
    """The valid request of `cmd` with attribute `key` replaced (None
    removes it)."""
    def build(ctx):
        d = dict(valid(cmd, ctx))
        if value is None:
            d.pop(key, None)
        else:
            d[key] = value(ctx) if callable(value) else value
        return d
    return build


def plus(cmd, extra):
    def build(ctx):
        return join(valid(cmd, ctx)) + (extra(ctx) if callable(extra) else extra)
    return build


def upd_iface(mut):
    """A valid update whose iface fields went through mut(fields)."""
    def build(ctx):
        f = iface_fields()
        mut(f)
        return update_fields(ctx, ops=op_nest(iface=iface_nest(f)))
    return build


def ent_iface(mut):
    def build(ctx):
        f = iface_fields()
        mut(f)
        return entries_fields(replay_iface(f))
    return build


def setf(key, value):
    def m(f):
        if value is None:
            f.pop(key, None)
        else:
            f[key] = value
    return m


# ---------------------------------------------------------------------------

def run_cases(cases, ctx):
    """Send each case alone and wait for its answer.  Returns (problems,
    errno histogram, silent count)."""
    probs, hist, silent = [], collections.Counter(), 0
    seqs = {"P": set(), "Q": set()}
    for cs in cases:
        sock = SOCK[cs.sock]
        seq, data = cs.build(sock, ctx)
        seqs[cs.sock].add(seq)
        [r] = sock.transact([(seq, data, True)], timeout=1.0 if cs.silence_ok else 10.0)
        if r.timeout:
            if cs.silence_ok:
                silent += 1
                hist["silence"] += 1
            else:
                probs.append(f"{cs.label}: no answer")
            continue
        if not r.error or r.msgs:
            probs.append(f"{cs.label}: ACCEPTED ({r.describe()})")
            ctx.refresh()
            continue
        hist[errname(r.error)] += 1
    for k in ("P", "Q"):
        SOCK[k].drain()
        late = [m for m in SOCK[k].ntf if m[2] in seqs[k]]
        SOCK[k].ntf.clear()
        for t, fl, seq, pid, body in late:
            if t != H.NLMSG_ERROR or struct.unpack_from("i", body, 0)[0] == 0:
                probs.append(f"late answer to seq {seq}: type {t}")
    return probs, hist, silent


_GEN = {}


def category(name):
    def deco(gen):
        _GEN[name] = gen

        def run():
            ctx = CTX.refresh()
            ensure_q()
            base = H.snapshot(SOCK["P"])
            cases = list(gen(ctx))
            probs, hist, silent = run_cases(cases, ctx)
            close_stray_replays()
            TOTAL[0] += len(cases)
            if cases:
                T.diag(f"{name}: {len(cases)} messages; answers: "
                       + ", ".join(f"{k} x{v}" for k, v in sorted(hist.items())))
            after = H.snapshot(SOCK["P"])
            diff = H.snapshot_diff(SOCK["P"], base, after)
            if diff or base != after:
                probs.append("STATE CHANGED:\n    " + "\n    ".join(diff or ["(raw bytes differ)"]))
            if probs:
                raise Fail(f"{len(probs)} of {len(cases)} wrong:\n  " + "\n  ".join(probs[:40])
                           + (f"\n  ... {len(probs) - 40} more" if len(probs) > 40 else ""))
        T.cases.append((f"malformed: {name}", run))
        return gen
    return deco


def ensure_q():
    """Q must hold an open replay on B (all sections, opid = register)."""
    q = SOCK["Q"]
    r = q.request("replay-begin", {"channel": B, "epoch": CTX.epb, "opid": CTX.regb, "sections": H.all_mask(8)})
    if r.error not in (0, errno.EBUSY):
        raise Fail(f"could not open the replay on Q: {r.describe()}")


def close_stray_replays():
    for cid in (A, B, C):
        SOCK["P"].request("replay-abort", {"channel": cid})
    for cid in (A, C):
        SOCK["Q"].request("replay-abort", {"channel": cid})


# ---------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------

@category("unknown and notification-only commands")
def _(ctx):
    for cmd in (0, S.cmd("ack-ntf"), S.cmd("entry-ntf"), S.cmd("channel-ntf"), len(S.cmds) + 1, len(S.cmds) + 2,
                64, 127, 200, 255):
        yield Case(f"cmd {cmd} with an update payload", cmd, lambda c: update_fields(c))
        yield Case(f"cmd {cmd} empty", cmd, b"")
        yield Case(f"cmd {cmd} as a dump", cmd, b"", dump=True)


@category("do-only commands sent as dumps")
def _(ctx):
    for cmd in ("info", "stats", "channel-new", "channel-del", "update", "claim", "replay-begin",
                "replay-entries", "replay-commit", "replay-abort"):
        payload = (lambda c, cmd=cmd: valid(cmd, c)) if cmd not in ("info", "stats") else b""
        yield Case(f"{cmd} with NLM_F_DUMP", cmd, payload, dump=True)


@category("genetlink header: reserved field and nlmsg flags")
def _(ctx):
    for cmd in ("update", "channel-new", "claim", "replay-begin", "channel-del"):
        p = lambda c, cmd=cmd: valid(cmd, c)  # noqa: E731
        for res in (1, 0x80, 0x8000, 0xFFFF):
            yield Case(f"{cmd} reserved={res:#x}", cmd, p, reserved=res)
        for fl in (H.NLM_F_MULTI, H.NLM_F_DUMP_INTR, 0x20, H.NLM_F_ROOT, H.NLM_F_MATCH, H.NLM_F_CREATE, 0x800,
                   0x1000, 0x8000):
            yield Case(f"{cmd} flags |= {fl:#x}", cmd, p, flags=REQ_ACK | fl)


@category("netlink header length shorter than the genetlink header or past the end")
def _(ctx):
    for ln in (16, 17, 18, 19):
        yield Case(f"update nlmsg_len {ln}", "update", lambda c: update_fields(c), length=ln, send_len=ln)
    for ln in (0, 4, 15):
        yield Case(f"update nlmsg_len {ln}", "update", lambda c: update_fields(c), length=ln, silence_ok=True)
    for extra in (4, 100, 4000):
        def payload(c):
            return join(update_fields(c))
        n = 20 + len(join(update_fields(ctx)))
        yield Case(f"update nlmsg_len {extra} past the end", "update", payload, length=n + extra,
                   silence_ok=True)
    yield Case("update nlmsg_len 0xffffffff", "update", lambda c: update_fields(c), length=0xFFFFFFFF,
               silence_ok=True)


SCALARS = {"u8": (0, 2, 4), "u16": (0, 1, 4), "u32": (0, 1, 2, 3, 5, 8), "uint": (0, 1, 2, 3, 5, 6, 7, 12, 16),
           "flag": (1, 4)}


@category("wrong attribute sizes at the top level, every command")
def _(ctx):
    for cmd in POLICY_CMDS:
        set_ = SET_OF[cmd]
        attrs = list(valid(cmd, ctx).keys())
        if cmd == "claim":
            attrs.append("all")
        for key in attrs:
            typ = S.sets[set_][key]["type"]
            for n in SCALARS.get(typ, ()):
                yield Case(f"{cmd} {key} ({typ}) of {n} bytes", cmd, mutate(cmd, key, sz(set_, key, n)))


@category("wrong attribute sizes inside op, iface and addr nests")
def _(ctx):
    for n in SCALARS["u32"]:
        yield Case(f"op.kind of {n} bytes", "update",
                   lambda c, n=n: update_fields(c, ops=op_nest(fields={"kind": sz("op", "kind", n, 0),
                                                                       "iface": iface_nest()})))
    for key in ("admin-up", "mtu", "vlan"):
        typ = S.sets["iface"][key]["type"]
        for n in SCALARS[typ]:
            val = sz("iface", key, n, 0 if key != "mtu" else 5)
            yield Case(f"update iface.{key} of {n} bytes", "update", upd_iface(setf(key, val)))
            yield Case(f"replay-entries iface.{key} of {n} bytes", "replay-entries", ent_iface(setf(key, val)))
    for key in ("family", "prefix-len"):
        for n in SCALARS["u8"]:
            f = addr_fields()
            f[key] = sz("addr", key, n, 4 if key == "family" else 8)
            yield Case(f"update addr.{key} of {n} bytes", "update", upd_iface(setf("addr", addr_nest(f))))
            yield Case(f"replay-entries addr.{key} of {n} bytes", "replay-entries",
                       ent_iface(setf("addr", addr_nest(f))))


def _truncations(label, cmd, build, ctx, sock=None):
    seq, full = SOCK["P"].message(cmd, join(build(ctx)))
    for n in range(20, len(full)):
        yield Case(f"{label} cut to {n} of {len(full)} bytes", cmd, lambda c: join(build(c)), length=n,
                   send_len=n, sock=sock)


@category("truncated at every byte: update, replay-begin, claim, cookies, channel-new, entry-get")
def _(ctx):
    n1, n2 = b"tr0", b"tr1"
    while H.section_of(n1, 64) == H.section_of(n2, 64):
        n2 += b"x"

    def upd(c):
        f1, f2 = iface_fields(n1), iface_fields(n2)
        return update_fields(c, ops=op_nest(iface=iface_nest(f1)) + op_nest(1, iface=iface_nest({"n": f2["name"]})),
                             names=(n1, n2))
    yield from _truncations("update", "update", upd, ctx)

    def rb(c):
        v = valid("replay-begin", c)
        return collections.OrderedDict((k, v[k]) for k in ("sections", "opid", "epoch", "channel"))
    yield from _truncations("replay-begin", "replay-begin", rb, ctx)

    def cl(c):
        v = valid("claim", c)
        return collections.OrderedDict((k, v[k]) for k in ("epoch", "id"))
    yield from _truncations("claim", "claim", cl, ctx)

    def ck(c):
        v = valid("cookies", c)
        return collections.OrderedDict((k, v[k]) for k in ("after-opid", "channel"))
    yield from _truncations("cookies", "cookies", ck, ctx)

    def cn(c):
        v = valid("channel-new", c)
        return collections.OrderedDict((k, v[k]) for k in ("sections", "name", "id"))
    yield from _truncations("channel-new", "channel-new", cn, ctx)

    def eg(c):
        v = valid("entry-get", c)
        return collections.OrderedDict((k, v[k]) for k in ("name", "channel"))
    yield from _truncations("entry-get", "entry-get", eg, ctx)


def _nested_flag(attr_bytes):
    ln, typ = struct.unpack_from("HH", attr_bytes, 0)
    return struct.pack("HH", ln, typ | H.NLA_F_NESTED) + attr_bytes[4:]


def _lie(attr_bytes, delta=None, length=None):
    """The same attribute bytes with nla_len changed."""
    ln, typ = struct.unpack_from("HH", attr_bytes, 0)
    new = length if length is not None else ln + delta
    return struct.pack("HH", new & 0xFFFF, typ) + attr_bytes[4:]


@category("attribute lengths that lie: past the message or nest end, below the header size")
def _(ctx):
    for d in (1, 4, 8, 100, 0xFFFF - 200):
        def last_top(c, d=d):
            f = update_fields(c)
            f["op"] = _lie(f["op"], d)
            return f
        yield Case(f"update: last attribute nla_len +{d}", "update", last_top)
    for ln in (0, 1, 2, 3):
        def first_top(c, ln=ln):
            f = update_fields(c)
            f["channel"] = _lie(f["channel"], length=ln)
            return f
        yield Case(f"update: channel nla_len {ln}", "update", first_top)
        yield Case(f"channel-new: id nla_len {ln}", "channel-new", mutate("channel-new", "id",
                                                                           _lie(u32("channel", "id", 77), length=ln)))
    for d in (1, 4, 8, 64):
        def in_op(c, d=d):
            return update_fields(c, ops=op_nest(fields={"kind": u32("op", "kind", 0),
                                                        "iface": _lie(iface_nest(), d)}))
        yield Case(f"op: iface nla_len +{d}", "update", in_op)
        f = addr_fields()
        f["address"] = _lie(f["address"], d)
        yield Case(f"addr: address nla_len +{d}", "update", upd_iface(setf("addr", addr_nest(f))))
    # desc is padded by 2 bytes: lies within the padding are not lies
    for d in (4, 8, 64):
        yield Case(f"iface: desc nla_len +{d}", "update",
                   upd_iface(setf("desc", _lie(string("iface", "desc", "malformed"), d))))
        yield Case(f"replay iface: desc nla_len +{d}", "replay-entries",
                   ent_iface(setf("desc", _lie(string("iface", "desc", "malformed"), d))))
    for ln in (4, 5, 8, 12):
        def short_op(c, ln=ln):
            return update_fields(c, ops=_lie(op_nest(), length=ln))
        yield Case(f"op nest nla_len {ln} (shorter than its content)", "update", short_op)
    for ln in (0, 2):
        yield Case(f"iface: mtu nla_len {ln}", "update",
                   upd_iface(setf("mtu", _lie(u32("iface", "mtu", 1400), length=ln))))
    for cmd in ("claim", "cookies", "replay-begin", "entry-get", "channel-del", "replay-commit"):
        def last_lie(c, cmd=cmd):
            d = dict(valid(cmd, c))
            k = list(d)[-1]
            d[k] = _lie(d[k], 8)
            return d
        yield Case(f"{cmd}: last attribute nla_len +8", cmd, last_lie)


@category("unknown attribute types and attributes outside the command's policy")
def _(ctx):
    for cmd in POLICY_CMDS:
        set_ = SET_OF[cmd]
        req = S.ops[cmd.replace("-dump", "")]["dump" if cmd.endswith("-dump") else "do"]["request"]["attributes"]
        for t in (0, len(S.sets[set_]) + 1, 0x3FFF):
            yield Case(f"{cmd} + attribute type {t}", cmd, plus(cmd, nla(t, b"\0\0\0\0")))
        for key, a in S.sets[set_].items():
            if key in req:
                continue
            payload = b"" if a["type"] == "flag" else (b"\0" * 8 if a["type"] in ("uint", "binary") else b"\0" * 4)
            yield Case(f"{cmd} + {key} (not in its request)", cmd,
                       plus(cmd, nla(a["id"], payload, nested=a["type"] == "nest")))
    for t in (0, 3, 100):
        yield Case(f"op + attribute type {t}", "update", lambda c, t=t: update_fields(
            c, ops=op_nest(fields={"kind": u32("op", "kind", 0), "iface": iface_nest(), "x": nla(t, b"\0" * 4)})))
    for t in (0, len(S.sets["iface"]) + 1, 100, 0x3FFF):
        yield Case(f"iface + attribute type {t}", "update", upd_iface(setf("x", nla(t, b"\0" * 4))))
        yield Case(f"replay iface + attribute type {t}", "replay-entries", ent_iface(setf("x", nla(t, b"\0" * 4))))
    for t in (0, len(S.sets["addr"]) + 1, 100):
        f = addr_fields()
        f["x"] = nla(t, b"\0" * 4)
        yield Case(f"addr + attribute type {t}", "update", upd_iface(setf("addr", addr_nest(f))))


@category("nest confusion: missing or unexpected NLA_F_NESTED, garbage and empty nests")
def _(ctx):
    yield Case("op without NLA_F_NESTED", "update", lambda c: update_fields(c, ops=op_nest(nested=False)))
    yield Case("iface in op without NLA_F_NESTED", "update",
               lambda c: update_fields(c, ops=op_nest(iface=iface_nest(nested=False))))
    yield Case("addr without NLA_F_NESTED", "update", upd_iface(setf("addr", addr_nest(nested=False))))
    yield Case("replay iface without NLA_F_NESTED", "replay-entries",
               lambda c: entries_fields(replay_iface(nested=False)))
    for key in ("channel", "epoch", "opid", "cookie"):
        def fl(c, key=key):
            f = update_fields(c)
            f[key] = _nested_flag(f[key])
            return f
        yield Case(f"update.{key} with NLA_F_NESTED", "update", fl)
    yield Case("op.kind with NLA_F_NESTED", "update", lambda c: update_fields(c, ops=op_nest(fields={
        "kind": nla(aid("op", "kind"), struct.pack("I", 0), nested=True), "iface": iface_nest()})))
    for key in ("name", "mtu", "mac", "desc"):
        def fn(f, key=key):
            f[key] = _nested_flag(f[key])
        yield Case(f"iface.{key} with NLA_F_NESTED", "update", upd_iface(fn))
    f = addr_fields()
    f["family"] = nla(aid("addr", "family"), b"\x04", nested=True)
    yield Case("addr.family with NLA_F_NESTED", "update", upd_iface(setf("addr", addr_nest(f))))
    yield Case("op as a u32", "update", lambda c: update_fields(c, ops=nla_u32(aid("update", "op"), 0)))
    yield Case("iface as a string", "update", lambda c: update_fields(c, ops=op_nest(fields={
        "kind": u32("op", "kind", 0), "iface": string("op", "iface", "mal0")})))
    rng = random.Random(99)
    for i in range(12):
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        yield Case(f"op nest of {len(junk)} random bytes ({i})", "update",
                   lambda c, j=junk: update_fields(c, ops=nla(aid("update", "op"), j, nested=True)))
        yield Case(f"iface nest of {len(junk)} random bytes ({i})", "update", lambda c, j=junk: update_fields(
            c, ops=op_nest(iface=nla(aid("op", "iface"), j, nested=True))))
        yield Case(f"addr nest of {len(junk)} random bytes ({i})", "update",
                   upd_iface(setf("addr", nla(aid("iface", "addr"), junk, nested=True))))
        yield Case(f"replay iface nest of {len(junk)} random bytes ({i})", "replay-entries",
                   lambda c, j=junk: entries_fields(nla(aid("replay", "iface"), j, nested=True)))
    yield Case("empty op nest", "update", lambda c: update_fields(c, ops=nla(aid("update", "op"), b"", nested=True)))
    yield Case("empty iface nest", "update", lambda c: update_fields(
        c, ops=op_nest(iface=nla(aid("op", "iface"), b"", nested=True))))
    yield Case("empty addr nest", "update", upd_iface(setf("addr", nla(aid("iface", "addr"), b"", nested=True))))
    yield Case("empty replay iface nest", "replay-entries",
               lambda c: entries_fields(nla(aid("replay", "iface"), b"", nested=True)))
    yield Case("op nest of 2 bytes", "update", lambda c: update_fields(c, ops=nla(aid("update", "op"), b"\1\0",
                                                                                   nested=True)))
    deep = iface_nest()
    for _ in range(12):
        deep = nla(aid("op", "iface"), deep, nested=True)
    yield Case("iface nested 12 deep", "update", lambda c: update_fields(c, ops=op_nest(iface=deep)))
    yield Case("op inside op", "update", lambda c: update_fields(c, ops=nla(
        aid("update", "op"), u32("op", "kind", 0) + op_nest(), nested=True)))


@category("missing required attributes, every command")
def _(ctx):
    for cmd, keys in (("channel-new", ["id"]), ("channel-del", ["id"]), ("channel-get", ["id"]),
                      ("update", ["channel", "epoch", "opid", "cookie", "op"]), ("claim", ["epoch"]),
                      ("cookies", ["channel", "after-opid"]),
                      ("replay-begin", ["channel", "epoch", "opid", "sections"]),
                      ("replay-entries", ["channel"]), ("replay-commit", ["channel"]),
                      ("replay-abort", ["channel"]), ("entry-get", ["channel", "name"])):
        for key in keys:
            yield Case(f"{cmd} without {key}", cmd, mutate(cmd, key, None))
    yield Case("claim without id or all", "claim", mutate("claim", "id", None))
    yield Case("channel-new empty", "channel-new", b"")
    yield Case("update empty", "update", b"")
    yield Case("op without kind", "update", lambda c: update_fields(c, ops=op_nest(fields={"iface": iface_nest()})))
    yield Case("set op without iface", "update", lambda c: update_fields(c, ops=op_nest(fields={
        "kind": u32("op", "kind", 0)})))
    yield Case("del op without iface", "update", lambda c: update_fields(c, ops=op_nest(fields={
        "kind": u32("op", "kind", 1)})))
    yield Case("set iface without name", "update", upd_iface(setf("name", None)))
    yield Case("del iface without name", "update", lambda c: update_fields(c, ops=op_nest(1, iface=iface_nest(
        {"mtu": u32("iface", "mtu", 1500)}))))
    yield Case("replay iface without name", "replay-entries", ent_iface(setf("name", None)))
    for key in ("family", "prefix-len", "address"):
        f = addr_fields()
        del f[key]
        yield Case(f"addr without {key}", "update", upd_iface(setf("addr", addr_nest(f))))
        yield Case(f"replay addr without {key}", "replay-entries", ent_iface(setf("addr", addr_nest(f))))


@category("strings: no NUL, empty, too long, forbidden bytes")
def _(ctx):
    for what, val in (("no NUL", (b"mal0", False)), ("empty", (b"", True)), ("zero-length attribute", (b"", False)),
                      ("16 bytes", (b"a" * 16, True)), ("100 bytes", (b"a" * 100, True)),
                      ("4000 bytes", (b"a" * 4000, True)), ("a space", (b"a b", True)), ("a '/'", (b"a/b", True)),
                      ("0x7f", (b"a\x7f", True)), ("0x80", (b"a\x80", True)), ("0xff", (b"\xff", True)),
                      ("a tab", (b"a\tb", True)), ("a newline", (b"a\n", True)), ("leading NUL", (b"\0abc", True)),
                      ("0x01", (b"\x01", True)), ("only '/'", (b"/", True))):
        s, nul = val
        a = string("iface", "name", s, nul)
        yield Case(f"set name {what}", "update", lambda c, a=a, s=s: update_fields(
            c, ops=op_nest(iface=iface_nest(dict(iface_fields(), name=a))), names=(s,)))
        yield Case(f"del name {what}", "update", lambda c, a=a, s=s: update_fields(
            c, ops=op_nest(1, iface=iface_nest({"name": a})), names=(s,)))
        yield Case(f"replay name {what}", "replay-entries", ent_iface(setf("name", a)))
    for what, s, nul in (("no NUL", b"x", False), ("256 bytes", b"d" * 256, True), ("1000 bytes", b"d" * 1000, True),
                         ("zero-length attribute", b"", False)):
        a = string("iface", "desc", s, nul)
        yield Case(f"desc {what}", "update", upd_iface(setf("desc", a)))
        yield Case(f"replay desc {what}", "replay-entries", ent_iface(setf("desc", a)))
    for what, s, nul in (("no NUL", b"new", False), ("32 bytes", b"c" * 32, True), ("300 bytes", b"c" * 300, True),
                         ("zero-length attribute", b"", False)):
        yield Case(f"channel name {what}", "channel-new",
                   mutate("channel-new", "name", string("channel", "name", s, nul)))
    for what, s, nul in (("no NUL", b"e0", False), ("16 bytes", b"e" * 16, True), ("zero-length attribute", b"", False)):
        yield Case(f"entry-get name {what}", "entry-get", mutate("entry-get", "name", string("entry", "name", s, nul)))


@category("bad enums and out-of-range values")
def _(ctx):
    for k in (2, 3, 0x80000000, 0xFFFFFFFF):
        yield Case(f"op kind {k}", "update", lambda c, k=k: update_fields(c, ops=op_nest(k)))
    for v in (2, 255):
        yield Case(f"admin-up {v}", "update", upd_iface(setf("admin-up", nla_u8(aid("iface", "admin-up"), v))))
        yield Case(f"replay admin-up {v}", "replay-entries",
                   ent_iface(setf("admin-up", nla_u8(aid("iface", "admin-up"), v))))
    for v in (0, 67, 65536, 0xFFFFFFFF):
        yield Case(f"mtu {v}", "update", upd_iface(setf("mtu", u32("iface", "mtu", v))))
        yield Case(f"replay mtu {v}", "replay-entries", ent_iface(setf("mtu", u32("iface", "mtu", v))))
    for v in (4095, 65535):
        yield Case(f"vlan {v}", "update", upd_iface(setf("vlan", nla_u16(aid("iface", "vlan"), v))))
        yield Case(f"replay vlan {v}", "replay-entries", ent_iface(setf("vlan", nla_u16(aid("iface", "vlan"), v))))
    for v in (0, 3, 65, 96, 0xFFFFFFFF):
        yield Case(f"channel-new sections {v}", "channel-new",
                   mutate("channel-new", "sections", u32("channel", "sections", v)))
    for v in (64, 1000):
        yield Case(f"entry-get dump section {v}", "entry-get-dump",
                   mutate("entry-get-dump", "section", u32("entry", "section", v)))
    yield Case("update opid 0", "update", lambda c: dict(update_fields(c), opid=uint("update", "opid", 0)))
    yield Case("replay-begin sections bit 1 on a 1-section channel", "replay-begin",
               lambda c: {"channel": u32("replay", "channel", C), "epoch": u32("replay", "epoch", c.epc),
                          "opid": uint("replay", "opid", c.regc), "sections": uint("replay", "sections", 2)})


@category("MAC lengths other than 6")
def _(ctx):
    for n in (0, 1, 5, 7, 8, 16, 100):
        a = nla(aid("iface", "mac"), bytes(range(n)))
        yield Case(f"mac of {n} bytes", "update", upd_iface(setf("mac", a)))
        yield Case(f"replay mac of {n} bytes", "replay-entries", ent_iface(setf("mac", a)))


@category("addresses: family/length/prefix combinations, duplicates, too many")
def _(ctx):
    combos = [(4, 16, 24), (6, 4, 64), (4, 0, 0), (6, 0, 0), (4, 3, 8), (4, 5, 8), (6, 15, 64), (6, 17, 64),
              (0, 4, 8), (5, 4, 8), (2, 4, 8), (10, 16, 64), (255, 4, 8), (4, 4, 33), (4, 4, 255), (6, 16, 129),
              (6, 16, 255), (4, 4096, 8)]
    for fam, ln, plen in combos:
        f = addr_fields(fam, plen, bytes([10] + [1] * (ln - 1)) if ln else b"")
        yield Case(f"family {fam}, {ln} bytes, prefix {plen}", "update", upd_iface(setf("addr", addr_nest(f))))
        yield Case(f"replay: family {fam}, {ln} bytes, prefix {plen}", "replay-entries",
                   ent_iface(setf("addr", addr_nest(f))))
    dup = addr_nest() + addr_nest()
    yield Case("the same address twice", "update", upd_iface(setf("addr", dup)))
    yield Case("replay: the same address twice", "replay-entries", ent_iface(setf("addr", dup)))
    for n in (17, 32, 1000):
        many = b"".join(addr_nest(addr_fields(4, 32, struct.pack(">I", 0x0A000000 + i))) for i in range(n))
        yield Case(f"{n} addresses", "update", upd_iface(setf("addr", many)))
        yield Case(f"replay: {n} addresses", "replay-entries", ent_iface(setf("addr", many)))


@category("update with no op or more than 64 (table.rs BadOpCount, MAX_OPS)")
def _(ctx):
    yield Case("update without op, cookie 0", "update",
               lambda c: dict(update_fields(c), op=None, cookie=uint("update", "cookie", 0)))
    for n in (65, 200, 1000):
        names = [f"op{i}".encode() for i in range(n)]
        ops = b"".join(op_nest(1, iface=iface_nest({"name": string("iface", "name", nm)})) for nm in names)
        yield Case(f"{n} del ops", "update", lambda c, ops=ops, names=names: update_fields(c, ops=ops, names=names))
    names = [f"op{i}".encode() for i in range(65)]
    ops = b"".join(op_nest(iface=iface_nest(dict(iface_fields(nm)))) for nm in names)
    yield Case("65 set ops", "update", lambda c: update_fields(c, ops=ops, names=names))


@category("semantic errors: cookies, channels, epochs, opids, replays, claims")
def _(ctx):
    good = H.cookie_of([NAME], 64)
    other = next(1 << b for b in range(64) if not good >> b & 1)
    for what, ck in (("0", 0), ("another bit", other), ("an extra bit", good | other), ("all ones", H.M64)):
        yield Case(f"update cookie {what}", "update", lambda c, ck=ck: dict(update_fields(c),
                                                                            cookie=uint("update", "cookie", ck)))
    yield Case("update unknown channel", "update", lambda c: dict(update_fields(c), channel=u32("update", "channel", 999)))
    yield Case("update stale epoch", "update", lambda c: dict(update_fields(c), epoch=u32("update", "epoch", c.epa - 1)))
    yield Case("update gap", "update", lambda c: dict(update_fields(c), opid=uint("update", "opid", c.rega + 2)))
    yield Case("update far gap", "update", lambda c: dict(update_fields(c), opid=uint("update", "opid", 1 << 62)))
    yield Case("claim lower epoch", "claim", mutate("claim", "epoch", lambda c: u32("channel", "epoch", c.epa - 1)))
    yield Case("claim unknown channel", "claim", mutate("claim", "id", u32("channel", "id", 999)))
    yield Case("claim all, lower epoch", "claim", lambda c: {"all": nla(aid("channel", "all")),
                                                            "epoch": u32("channel", "epoch", c.epa - 1)})
    yield Case("channel-new existing id", "channel-new", mutate("channel-new", "id", u32("channel", "id", A)))
    for s in (3, 6, 48):
        yield Case(f"channel-new sections {s}", "channel-new",
                   mutate("channel-new", "sections", u32("channel", "sections", s)))
    yield Case("channel-del unknown", "channel-del", {"id": u32("channel", "id", 999)})
    yield Case("channel-get unknown", "channel-get", {"id": u32("channel", "id", 999)})
    yield Case("cookies unknown channel", "cookies", mutate("cookies", "channel", u32("cookies", "channel", 999)))
    yield Case("entry-get unknown channel", "entry-get", mutate("entry-get", "channel", u32("entry", "channel", 999)))
    yield Case("entry-get absent name", "entry-get", mutate("entry-get", "name", string("entry", "name", "absent")))
    yield Case("replay-begin stale epoch", "replay-begin",
               mutate("replay-begin", "epoch", lambda c: u32("replay", "epoch", c.epa - 1)))
    yield Case("replay-begin opid below register", "replay-begin",
               mutate("replay-begin", "opid", lambda c: uint("replay", "opid", c.rega - 1)))
    yield Case("replay-begin unknown channel", "replay-begin",
               mutate("replay-begin", "channel", u32("replay", "channel", 999)))
    yield Case("replay-begin while one is open on the socket", "replay-begin",
               lambda c: {"channel": u32("replay", "channel", A), "epoch": u32("replay", "epoch", c.epa),
                          "opid": uint("replay", "opid", c.rega), "sections": uint("replay", "sections", 1)},
               sock="Q")
    yield Case("replay-begin on a channel with a replay open", "replay-begin",
               lambda c: {"channel": u32("replay", "channel", B), "epoch": u32("replay", "epoch", c.epb),
                          "opid": uint("replay", "opid", c.regb), "sections": uint("replay", "sections", 1)})
    for cmd in ("replay-entries", "replay-commit"):
        yield Case(f"{cmd} for another channel", cmd, mutate(cmd, "channel", u32("replay", "channel", A)))
        yield Case(f"{cmd} without an open replay", cmd, lambda c, cmd=cmd: valid(cmd, c), sock="P")


@category("oversized attributes and messages")
def _(ctx):
    yield Case("name of 60000 bytes", "update", upd_iface(setf("name", string("iface", "name", b"n" * 60000))))
    yield Case("desc of 60000 bytes", "update", upd_iface(setf("desc", string("iface", "desc", b"d" * 60000))))
    yield Case("mac of 4096 bytes", "update", upd_iface(setf("mac", nla(aid("iface", "mac"), bytes(4096)))))
    yield Case("address of 4096 bytes", "update",
               upd_iface(setf("addr", addr_nest(addr_fields(6, 64, bytes(4096))))))
    yield Case("channel name of 4096 bytes", "channel-new",
               mutate("channel-new", "name", string("channel", "name", b"c" * 4096)))
    yield Case("unknown attribute of 60000 bytes", "update", plus("update", nla(200, bytes(60000))))
    yield Case("op nest padded with 60000 zero bytes", "update",
               lambda c: update_fields(c, ops=nla(aid("update", "op"), u32("op", "kind", 0) + iface_nest()
                                                  + bytes(60000), nested=True)))
    big = b"x" * 70000
    yield Case("desc of 70000 bytes (nla_len wraps)", "update",
               upd_iface(setf("desc", nla(aid("iface", "desc"), big + b"\0"))))
    yield Case("replay entry with a 60000-byte desc", "replay-entries",
               ent_iface(setf("desc", string("iface", "desc", b"d" * 60000))))
    yield Case("update with 100 KiB of trailing zero bytes", "update", plus("update", bytes(100 * 1024)))


def _unpriv_send(cases):
    sock = H.RawGenl()
    out = []
    for label, cmd, payload in cases:
        seq, data = sock.message(cmd, bytes.fromhex(payload))
        [r] = sock.transact([(seq, data, True)])
        out.append([label, r.error, len(r.msgs), r.timeout])
    return out


@category("an unprivileged caller (uid 65534, no capabilities)")
def _(ctx):
    # Built here, sent by a child after setuid; the generator yields nothing
    # to the normal runner and does its own checking.
    cases = []
    for cmd in ("channel-new", "channel-del", "update", "claim", "replay-begin", "replay-entries", "replay-commit",
                "replay-abort"):
        cases.append((f"unprivileged valid {cmd}", cmd, join(valid(cmd, ctx)).hex()))
    cases.append(("unprivileged claim all", "claim", join({"all": nla(aid("channel", "all")),
                                                           "epoch": u32("channel", "epoch", 1000)}).hex()))
    cases.append(("unprivileged update, wrong sizes", "update", join(dict(update_fields(ctx),
                                                                        channel=sz("update", "channel", 2))).hex()))
    cases.append(("unprivileged update, no attributes", "update", ""))
    cases.append(("unprivileged replay-entries, garbage", "replay-entries",
                  nla(aid("replay", "iface"), b"\xff" * 9, nested=True).hex()))
    cases.append(("unprivileged channel-new, bad sections", "channel-new",
                  join({"id": u32("channel", "id", 78), "sections": u32("channel", "sections", 3)}).hex()))
    res = H.run_unprivileged(_unpriv_send, cases)
    bad = [f"{label}: {errname(e)} ({n} replies{', no answer' if to else ''})" for label, e, n, to in res
           if e != errno.EPERM]
    T.diag(f"unprivileged: {len(res)} messages, {len(res) - len(bad)} EPERM")
    TOTAL[0] += len(res)
    if bad:
        raise Fail("want EPERM:\n  " + "\n  ".join(bad))
    return iter(())


@category("malformed replay entries stage nothing: a commit afterwards changes nothing")
def _(ctx):
    return iter(())


def stage_nothing():
    """Open a replay of two sections of A on a fresh socket, stage exactly
    what those sections hold, send malformed entries, commit: the table must
    be unchanged (log-first-opid aside)."""
    P = SOCK["P"]
    ctx = CTX.refresh()
    cnt = [s["entries"] for s in H.channel_info(P, A)["section"]]
    secs = sorted(range(64), key=lambda s: -cnt[s])[:2]
    mask = sum(1 << s for s in secs)
    outside = next(s for s in range(64) if s not in secs)
    out_name = H._bytes(next(f"o{i}" for i in range(100000) if H.section_of(f"o{i}", 64) == outside))
    in_name = H._bytes(next(f"i{i}" for i in range(100000) if H.section_of(f"i{i}", 64) == secs[0]))
    base = H.snapshot(P)
    R = H.RawGenl()
    try:
        r = R.request("replay-begin", {"channel": A, "epoch": ctx.epa, "opid": ctx.rega, "sections": mask})
        expect(not r.error, f"replay-begin: {r.describe()}")
        recs = [e["iface"] for s in secs for e in H.entry_dump(P, A, s)]
        for rec in recs:
            rec.pop("section", None)
        if recs:
            r = R.request("replay-entries", {"channel": A, "iface": recs})
            expect(not r.error, f"staging the current records: {r.describe()}")

        def ent(fields):
            return join({"channel": u32("replay", "channel", A), "iface": replay_iface(fields)})

        bad = []
        for what, mut in (("outside the mask", setf("name", string("iface", "name", out_name))),
                          ("mtu 0", setf("mtu", u32("iface", "mtu", 0))),
                          ("vlan 4095", setf("vlan", nla_u16(aid("iface", "vlan"), 4095))),
                          ("name with '/'", setf("name", string("iface", "name", b"i/x"))),
                          ("name without NUL", setf("name", string("iface", "name", in_name, False))),
                          ("mac of 5 bytes", setf("mac", nla(aid("iface", "mac"), bytes(5)))),
                          ("IPv4 address of 16 bytes", setf("addr", addr_nest(addr_fields(4, 8, bytes(16))))),
                          ("duplicate addresses", setf("addr", addr_nest() + addr_nest())),
                          ("17 addresses", setf("addr", b"".join(addr_nest(addr_fields(4, 32, bytes([10, 0, 0, i])))
                                                               for i in range(17)))),
                          ("desc of 256 bytes", setf("desc", string("iface", "desc", b"d" * 256))),
                          ("admin-up 2", setf("admin-up", nla_u8(aid("iface", "admin-up"), 2)))):
            f = iface_fields(in_name)
            mut(f)
            r = R.request("replay-entries", ent(f))
            if not r.error or r.msgs:
                bad.append(f"{what}: accepted")
        TOTAL[0] += 11
        r = R.request("replay-commit", {"channel": A})
        T.diag(f"stage nothing: 11 malformed entries; commit afterwards: {errname(r.error)}")
        after = H.snapshot(P)
        diff = H.snapshot_diff(P, base, after, ignore=("log-first-opid",))
        if diff:
            bad.append("STATE CHANGED:\n    " + "\n    ".join(diff))
        if bad:
            raise Fail("\n  ".join(bad))
    finally:
        R.close()


@category("a batch of malformed messages in one sendmsg: each answered with an error")
def _(ctx):
    return iter(())


def batch_of_malformed():
    ctx = CTX.refresh()
    ensure_q()
    base = H.snapshot(SOCK["P"])
    pool = []
    for g in GENERATORS_FOR_BATCH:
        pool.extend(cs for cs in g(ctx) if cs.sock == "P" and not cs.silence_ok and cs.send_len is None)
    rng = random.Random(5)
    rng.shuffle(pool)
    P = SOCK["P"]
    reqs, chosen, size = [], [], 0
    for cs in pool:
        seq, data = cs.build(P, ctx)
        if len(data) > 1024:
            continue  # the whole batch must fit the socket's send buffer
        reqs.append((seq, data, True))
        chosen.append(cs)
        size += len(data)
        if len(chosen) == 150:
            break
    pool = chosen
    replies = P.transact(reqs, timeout=30)
    bad = [f"{cs.label}: {r.describe()}" for cs, r in zip(pool, replies) if r.timeout or not r.error or r.msgs]
    TOTAL[0] += len(pool)
    T.diag(f"batch: {len(pool)} malformed messages ({size} bytes) in one sendmsg, {len(pool) - len(bad)} errors")
    after = H.snapshot(SOCK["P"])
    diff = H.snapshot_diff(SOCK["P"], base, after)
    if diff or base != after:
        bad.append("STATE CHANGED:\n    " + "\n    ".join(diff or ["(raw bytes differ)"]))
    if bad:
        raise Fail("\n  ".join(bad[:40]))


GENERATORS_FOR_BATCH = []


def _install_special():
    """Replace the placeholder runners of the categories that do their own
    sending."""
    for i, (name, run) in enumerate(T.cases):
        if "stage nothing" in name:
            T.cases[i] = (name, stage_nothing)
        elif "batch of malformed" in name:
            T.cases[i] = (name, batch_of_malformed)


@T.case("state after all malformed messages equals the state before them")
def final_state():
    after = H.snapshot(SOCK["P"])
    diff = H.snapshot_diff(SOCK["P"], SOCK["base"], after, ignore=("log-first-opid",))
    T.diag(f"total malformed messages sent: {TOTAL[0]}")
    expect(not diff, "\n  ".join(diff))
    expect(TOTAL[0] >= 500, f"only {TOTAL[0]} malformed messages were sent")


def setup():
    H.module_load("max_channels=8")
    SOCK["P"] = H.RawGenl(rcvbuf=16 << 20)
    SOCK["Q"] = H.RawGenl(rcvbuf=4 << 20)
    P = SOCK["P"]
    rng = random.Random(2024)
    for cid, name in ((A, "alpha"), (B, "beta"), (C, None), (D, "doomed")):
        attrs = {"id": cid, "sections": SEC[cid]}
        if name:
            attrs["name"] = name
        r = P.request("channel-new", attrs)
        expect(not r.error, f"channel-new {attrs}: {r.describe()}")
    for cid, n in ((A, 24), (B, 30), (C, 3)):
        opid = 0
        names = [f"e{i}" for i in range(n)]
        for i in range(0, n, 8):
            ops = [("set", H.random_record(rng, nm)) for nm in names[i:i + 8]]
            opid += 1
            r = P.request("update", H.update_payload(cid, 0, opid, ops, SEC[cid]))
            expect(not r.error, f"filling {cid}: {r.describe()}")
    r = P.request("claim", {"id": [A], "epoch": 3})
    expect(not r.error, f"claim: {r.describe()}")
    CTX.refresh()
    ensure_q()
    SOCK["base"] = H.snapshot(P)
    GENERATORS_FOR_BATCH.extend(g for g in (
        _GEN["wrong attribute sizes at the top level, every command"],
        _GEN["unknown attribute types and attributes outside the command's policy"],
        _GEN["nest confusion: missing or unexpected NLA_F_NESTED, garbage and empty nests"],
        _GEN["strings: no NUL, empty, too long, forbidden bytes"],
        _GEN["addresses: family/length/prefix combinations, duplicates, too many"],
        _GEN["bad enums and out-of-range values"]))


def teardown():
    for s in ("P", "Q"):
        if s in SOCK:
            SOCK[s].close()
    H.module_unload()
    expect(not os.path.exists("/sys/module/hasync"), "module still loaded")


if __name__ == "__main__":
    _install_special()
    sys.exit(T.run(setup, teardown))
