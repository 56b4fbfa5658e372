#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Netlink helpers for the hasync selftests.

Three layers, all driven by the one spec (hasync.yaml):

* the kernel's own YNL Python library ($HASYNC_KDIR/tools/net/ynl/lib) for
  ordinary requests: `Client` wraps a YnlFamily;
* `RawGenl`, a raw AF_NETLINK socket that resolves the family through nlctrl
  itself and sends hand-built bytes (malformed messages, many requests in one
  sendmsg), with `Spec` encoding and decoding attributes from the spec;
* the reference functions of userspace/hasync-engine (src/hash.rs,
  src/table.rs): FNV-1a 64, the splitmix64 finalizer, sections, cookies, the
  canonical record encoding and per-section digests, and a `Model` of a
  channel's table.

`python3 hasync_nl.py --self-test` checks the reference functions against the
Rust test vectors; the other sub-commands are worker processes for
concurrency_test.sh and ynl_interop_test.sh (see `main`).
"""

import collections
import errno
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

SELFTEST_DIR = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(SELFTEST_DIR))
SPEC_PATH = os.path.join(TOP, "hasync.yaml")
KDIR = os.environ.get("HASYNC_KDIR", "")
SCHEMA_PATH = os.path.join(KDIR, "Documentation/netlink/genetlink.yaml")
YNL_DIR = os.path.join(KDIR, "tools/net/ynl")
PY = "/usr/bin/python3"


class Fail(Exception):
    """A test expectation did not hold."""


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def errname(e):
    if e is None:
        return "None"
    if e == 0:
        return "success"
    name = "EOPNOTSUPP" if e == errno.EOPNOTSUPP else errno.errorcode.get(e, "?")
    return f"{name}({e})"


# ---------------------------------------------------------------------------
# Reference functions (userspace/hasync-model/src/hash.rs and table.rs)
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MIX_C1 = 0xBF58476D1CE4E5B9
MIX_C2 = 0x94D049BB133111EB

NAME_MAX = 15
DESC_MAX = 255
ADDRS_MAX = 16
MTU_DEFAULT = 1500


def fnv1a64(data):
    h = FNV_OFFSET
    for b in _bytes(data):
        h ^= b
        h = (h * FNV_PRIME) & M64
    return h


def mix64(z):
    z &= M64
    z = ((z ^ (z >> 30)) * MIX_C1) & M64
    z = ((z ^ (z >> 27)) * MIX_C2) & M64
    return z ^ (z >> 31)


def _bytes(x):
    if isinstance(x, str):
        return x.encode("latin-1")
    return bytes(x)


def section_of(name, sections):
    return fnv1a64(_bytes(name)) & (sections - 1)


def all_mask(sections):
    return M64 if sections == 64 else (1 << sections) - 1


def cookie_of(names, sections):
    c = 0
    for n in names:
        c |= 1 << section_of(n, sections)
    return c


def v4(addr, plen):
    return {"family": 4, "prefix-len": plen, "address": socket.inet_pton(socket.AF_INET, addr)}


def v6(addr, plen):
    return {"family": 6, "prefix-len": plen, "address": socket.inet_pton(socket.AF_INET6, addr)}


def _mac(m):
    if m is None:
        return bytes(6)
    if isinstance(m, str):
        return bytes.fromhex(m.replace(":", ""))
    return bytes(m)


def addr_key(a):
    return bytes([a["family"], a["prefix-len"]]) + bytes(a["address"])


def norm_iface(d):
    """A record with every field present and its addresses in canonical
    order; accepts what YNL decodes and what the tests build."""
    if isinstance(d, str):
        d = {"name": d}
    desc = d.get("desc", "")
    addrs = [{"family": a["family"], "prefix-len": a["prefix-len"],
              "address": bytes(a["address"])} for a in d.get("addr", [])]
    addrs.sort(key=addr_key)
    return {
        "name": d["name"],
        "admin-up": int(d.get("admin-up", 0)),
        "mtu": int(d.get("mtu", MTU_DEFAULT)),
        "mac": _mac(d.get("mac")),
        "vlan": int(d.get("vlan", 0)),
        "addr": addrs,
        "desc": desc,
        "speed": int(d.get("speed", 0)),
    }


def canonical(rec):
    """The canonical encoding of table.rs (big-endian integers)."""
    r = norm_iface(rec)
    name = _bytes(r["name"])
    out = bytes([len(name)]) + name
    out += bytes([(r["admin-up"] & 1) | (2 if r["speed"] else 0)])
    out += struct.pack(">I", r["mtu"])
    out += r["mac"]
    out += struct.pack(">H", r["vlan"])
    out += bytes([len(r["addr"])])
    for a in r["addr"]:
        out += addr_key(a)
    desc = _bytes(r["desc"])
    out += bytes([len(desc)]) + desc
    if r["speed"]:
        out += struct.pack(">I", r["speed"])
    return out


def entry_hash(rec):
    return mix64(fnv1a64(canonical(rec)))


def digests(records, sections):
    d = [0] * sections
    for r in records:
        s = section_of(r["name"], sections)
        d[s] = (d[s] + entry_hash(r)) & M64
    return d


def section_counts(records, sections):
    c = [0] * sections
    for r in records:
        c[section_of(r["name"], sections)] += 1
    return c


def rec_key(rec):
    """Hashable form of a record, for comparing sets of records."""
    return canonical(rec)


class Model:
    """What one channel's table must hold: ops applied in order."""

    def __init__(self, sections=64):
        self.sections = sections
        self.records = {}

    def apply(self, ops):
        for kind, rec in ops:
            if kind in ("set", 0):
                r = norm_iface(rec)
                self.records[r["name"]] = r
            else:
                self.records.pop(rec if isinstance(rec, str) else rec["name"], None)

    def replace_sections(self, mask, recs):
        for n in [n for n in self.records if mask >> section_of(n, self.sections) & 1]:
            del self.records[n]
        for r in recs:
            r = norm_iface(r)
            self.records[r["name"]] = r

    def values(self):
        return list(self.records.values())

    def digests(self):
        return digests(self.values(), self.sections)

    def counts(self):
        return section_counts(self.values(), self.sections)

    def in_section(self, s):
        return [r for r in self.values() if section_of(r["name"], self.sections) == s]

    def to_json(self):
        return {"sections": self.sections, "records": [rec_to_json(r) for r in self.values()]}

    @classmethod
    def from_json(cls, j):
        m = cls(j["sections"])
        for r in j["records"]:
            r = rec_from_json(r)
            m.records[r["name"]] = r
        return m


def rec_to_json(r):
    r = norm_iface(r)
    return {"name": r["name"], "admin-up": r["admin-up"], "mtu": r["mtu"], "mac": r["mac"].hex(),
            "vlan": r["vlan"], "desc": r["desc"],
            "addr": [{"family": a["family"], "prefix-len": a["prefix-len"],
                      "address": a["address"].hex()} for a in r["addr"]]}


def rec_from_json(j):
    return norm_iface({"name": j["name"], "admin-up": j["admin-up"], "mtu": j["mtu"],
                       "mac": bytes.fromhex(j["mac"]), "vlan": j["vlan"], "desc": j["desc"],
                       "addr": [{"family": a["family"], "prefix-len": a["prefix-len"],
                                 "address": bytes.fromhex(a["address"])} for a in j["addr"]]})


def random_record(rng, name):
    """A valid record with random fields (what the digest tests feed in)."""
    r = {"name": name}
    if rng.random() < 0.5:
        r["admin-up"] = rng.randint(0, 1)
    if rng.random() < 0.7:
        r["mtu"] = rng.choice([68, 576, 1280, 1500, 9000, 65535, rng.randint(68, 65535)])
    if rng.random() < 0.6:
        r["mac"] = bytes([0x02] + [rng.randint(0, 255) for _ in range(5)])
    if rng.random() < 0.4:
        r["vlan"] = rng.choice([0, 1, 4094, rng.randint(0, 4094)])
    if rng.random() < 0.6:
        addrs = {}
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.5:
                a = {"family": 4, "prefix-len": rng.randint(0, 32),
                     "address": bytes(rng.randint(0, 255) for _ in range(4))}
            else:
                a = {"family": 6, "prefix-len": rng.randint(0, 128),
                     "address": bytes(rng.randint(0, 255) for _ in range(16))}
            addrs[addr_key(a)] = a
        r["addr"] = list(addrs.values())
        rng.shuffle(r["addr"])
    if rng.random() < 0.5:
        r["desc"] = "".join(rng.choice("abcdefghij klmnop-_.:/XYZ0123") for _ in range(rng.randint(0, 64)))
    return r


# ---------------------------------------------------------------------------
# The spec: attribute ids, types, commands (what YNL derives, done here too
# so that raw messages do not depend on YNL internals)
# ---------------------------------------------------------------------------

def _load_yaml(path):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


class Spec:
    def __init__(self, path=SPEC_PATH):
        y = _load_yaml(path)
        self.yaml = y
        self.consts = {}
        self.enums = {}
        for d in y.get("definitions", []):
            if d["type"] == "const":
                self.consts[d["name"]] = d["value"]
            elif d["type"] in ("enum", "flags"):
                start = d.get("value-start", 0)
                self.enums[d["name"]] = {(e if isinstance(e, str) else e["name"]): start + i
                                         for i, e in enumerate(d["entries"])}
        self.sets = {}
        self.by_id = {}
        for s in y["attribute-sets"]:
            val = 1
            names = {}
            ids = {}
            for a in s["attributes"]:
                if "value" in a:
                    val = a["value"]
                a = dict(a)
                a["id"] = val
                names[a["name"]] = a
                ids[val] = a
                val += 1
            self.sets[s["name"]] = names
            self.by_id[s["name"]] = ids
        self.cmds = {}
        self.ops = {}
        val = 1
        for op in y["operations"]["list"]:
            if "value" in op:
                val = op["value"]
            self.cmds[op["name"]] = val
            self.ops[op["name"]] = op
            val += 1
        self.cmd_names = {v: k for k, v in self.cmds.items()}

    def attr(self, set_name, name):
        return self.sets[set_name][name]["id"]

    def cmd(self, name):
        return name if isinstance(name, int) else self.cmds[name]

    def encode(self, set_name, vals):
        out = b""
        for name, v in vals.items():
            a = self.sets[set_name][name]
            # A list repeats the attribute: multi-attr ones, and also e.g.
            # claim's channel.id, which the contract lets repeat.
            if isinstance(v, list) and a["type"] != "binary":
                for x in v:
                    out += self._enc1(a, x)
            else:
                out += self._enc1(a, v)
        return out

    def _enc1(self, a, v):
        t = a["type"]
        if "enum" in a and isinstance(v, str):
            v = self.enums[a["enum"]][v]
        if t == "nest":
            return nla(a["id"], self.encode(a["nested-attributes"], v), nested=True)
        if t == "flag":
            return nla(a["id"]) if v else b""
        if t == "string":
            return nla(a["id"], _bytes(v) + b"\0")
        if t == "binary":
            return nla(a["id"], _bytes(v))
        if t == "uint":
            return nla(a["id"], struct.pack("I" if v < (1 << 32) else "Q", v))
        fmt = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "s32": "i"}[t]
        return nla(a["id"], struct.pack(fmt, v))

    def decode(self, set_name, payload):
        """Decode strictly: a wrongly sized or unknown attribute from the
        kernel is itself a finding, so it raises."""
        res = {}
        ids = self.by_id[set_name]
        for typ, flags, data in parse_attrs(payload):
            a = ids.get(typ)
            if a is None:
                raise Fail(f"kernel sent unknown attribute {typ} in set {set_name}")
            t = a["type"]
            if t == "nest":
                expect(flags & NLA_F_NESTED, f"{set_name}.{a['name']} sent without NLA_F_NESTED")
                v = self.decode(a["nested-attributes"], data)
            elif t == "flag":
                expect(len(data) == 0, f"flag {a['name']} with payload")
                v = True
            elif t == "string":
                expect(len(data) >= 1 and data[-1] == 0, f"string {a['name']} not NUL-terminated: {data!r}")
                v = data[:-1].decode("latin-1")
            elif t == "binary":
                v = bytes(data)
            elif t == "uint":
                expect(len(data) in (4, 8), f"uint {a['name']} of {len(data)} bytes")
                v = struct.unpack("I" if len(data) == 4 else "Q", data)[0]
            else:
                fmt = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "s32": "i"}[t]
                expect(len(data) == struct.calcsize(fmt), f"{t} {a['name']} of {len(data)} bytes")
                v = struct.unpack(fmt, data)[0]
            if a.get("multi-attr"):
                res.setdefault(a["name"], []).append(v)
            else:
                expect(a["name"] not in res, f"{set_name}.{a['name']} repeated")
                res[a["name"]] = v
        return res


_SPEC = None


def spec():
    global _SPEC
    if _SPEC is None:
        _SPEC = Spec()
    return _SPEC


# ---------------------------------------------------------------------------
# Raw netlink
# ---------------------------------------------------------------------------

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12
SO_RCVBUFFORCE = 33

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ECHO = 0x8
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLMSGERR_ATTR_COOKIE = 3
NLMSGERR_ATTR_POLICY = 4
NLMSGERR_ATTR_MISS_TYPE = 5
NLMSGERR_ATTR_MISS_NEST = 6

GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2


def pad4(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def nla(atype, payload=b"", nested=False, length=None, raw_type=None):
    """One attribute; `length` overrides nla_len (for lies), `raw_type` the
    whole 16-bit type field."""
    payload = bytes(payload)
    t = raw_type if raw_type is not None else (atype | (NLA_F_NESTED if nested else 0))
    ln = 4 + len(payload) if length is None else length
    return struct.pack("HH", ln & 0xFFFF, t & 0xFFFF) + pad4(payload)


def nla_u8(t, v):
    return nla(t, struct.pack("B", v))


def nla_u16(t, v):
    return nla(t, struct.pack("H", v))


def nla_u32(t, v):
    return nla(t, struct.pack("I", v))


def nla_u64(t, v):
    return nla(t, struct.pack("Q", v))


def nla_str(t, s):
    return nla(t, _bytes(s) + b"\0")


def nla_nest(t, *children):
    return nla(t, b"".join(children), nested=True)


def parse_attrs(buf, strict=True):
    out = []
    off = 0
    buf = bytes(buf)
    while off + 4 <= len(buf):
        ln, typ = struct.unpack_from("HH", buf, off)
        if ln < 4 or off + ln > len(buf):
            if strict:
                raise Fail(f"malformed attribute from the kernel at {off}: len {ln}, {len(buf) - off} left")
            break
        out.append((typ & NLA_TYPE_MASK, typ & ~NLA_TYPE_MASK & 0xFFFF, buf[off + 4:off + ln]))
        off += (ln + 3) & ~3
    if strict and off < len(buf) and len(buf) - off >= 4:
        raise Fail("trailing bytes in attributes from the kernel")
    return out


class Reply:
    """Everything the kernel answered to one request (one sequence number)."""

    def __init__(self, seq, wait_ack):
        self.seq = seq
        self.wait_ack = wait_ack
        self.error = None  # errno (positive) or 0 once an ACK/DONE arrived
        self.msgs = []  # (genl cmd, attribute bytes, nlmsg_flags)
        self.extack = {}
        self.done = False
        self.finished = False
        self.timeout = False
        self.intr = False
        self.arrival = None  # position of its first answer among all answers

    @property
    def cookie(self):
        return self.extack.get("cookie")

    def cookie_u64(self):
        c = self.cookie
        return None if c is None or len(c) != 8 else struct.unpack("Q", c)[0]

    def cookie_u32(self):
        c = self.cookie
        return None if c is None or len(c) != 4 else struct.unpack("I", c)[0]

    def describe(self):
        if self.timeout:
            return f"seq {self.seq}: no answer"
        s = f"seq {self.seq}: {errname(self.error)}"
        if self.msgs:
            s += f", {len(self.msgs)} reply message(s) cmd {self.msgs[0][0]}"
        if self.extack:
            s += f", extack {self.extack}"
        return s


def _parse_extack(buf):
    ext = {}
    for typ, _, data in parse_attrs(buf, strict=False):
        if typ == NLMSGERR_ATTR_MSG:
            ext["msg"] = data.rstrip(b"\0").decode("latin-1")
        elif typ == NLMSGERR_ATTR_COOKIE:
            ext["cookie"] = bytes(data)
        elif typ == NLMSGERR_ATTR_OFFS and len(data) == 4:
            ext["offs"] = struct.unpack("I", data)[0]
        elif typ == NLMSGERR_ATTR_MISS_TYPE and len(data) == 4:
            ext["miss-type"] = struct.unpack("I", data)[0]
        elif typ == NLMSGERR_ATTR_MISS_NEST and len(data) == 4:
            ext["miss-nest"] = struct.unpack("I", data)[0]
        elif typ == NLMSGERR_ATTR_POLICY:
            ext["policy"] = True
    return ext


class FamilyMissing(Exception):
    pass


class RawGenl:
    """A generic netlink socket speaking bytes."""

    def __init__(self, family="hasync", rcvbuf=None, ext_ack=True, cap_ack=True):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        if ext_ack:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        if cap_ack:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.cap_ack = cap_ack
        if rcvbuf:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except PermissionError:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((0, 0))
        self.portid = self.sock.getsockname()[0]
        self._seq = random.randint(1, 1 << 20)
        self.ntf = []
        self.overruns = 0
        self.family = family
        self.family_id = None
        self.groups = {}
        if family:
            self.family_id, self.groups = self.resolve(family)
        self.spec = spec()

    def close(self):
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    def next_seq(self):
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def resolve(self, name):
        seq, data = self.message(CTRL_CMD_GETFAMILY, nla_str(CTRL_ATTR_FAMILY_NAME, name),
                                 family_id=GENL_ID_CTRL)
        [r] = self.transact([(seq, data, True)])
        if r.error == errno.ENOENT:
            raise FamilyMissing(f"generic netlink family '{name}' is not registered (is hasync.ko loaded?)")
        if r.error or not r.msgs:
            raise Fail(f"nlctrl GETFAMILY {name}: {r.describe()}")
        fid = None
        groups = {}
        for typ, _, data in parse_attrs(r.msgs[0][1]):
            if typ == CTRL_ATTR_FAMILY_ID:
                fid = struct.unpack("H", data[:2])[0]
            elif typ == CTRL_ATTR_MCAST_GROUPS:
                for _, _, grp in parse_attrs(data):
                    gname = gid = None
                    for t2, _, d2 in parse_attrs(grp):
                        if t2 == CTRL_ATTR_MCAST_GRP_NAME:
                            gname = d2.rstrip(b"\0").decode()
                        elif t2 == CTRL_ATTR_MCAST_GRP_ID:
                            gid = struct.unpack("I", d2)[0]
                    groups[gname] = gid
        return fid, groups

    def subscribe(self, group):
        expect(group in self.groups, f"multicast group {group} not registered: {self.groups}")
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, self.groups[group])

    def message(self, cmd, payload=b"", flags=NLM_F_REQUEST | NLM_F_ACK, seq=None, family_id=None,
                version=1, reserved=0, length=None):
        """(seq, bytes) of one request; `length` overrides nlmsg_len."""
        if seq is None:
            seq = self.next_seq()
        if isinstance(cmd, str):
            cmd = self.spec.cmd(cmd)
        fid = self.family_id if family_id is None else family_id
        body = struct.pack("BBH", cmd, version, reserved) + bytes(payload)
        ln = 16 + len(body) if length is None else length
        return seq, struct.pack("IHHII", ln, fid, flags, seq, 0) + body

    def send(self, data):
        self.sock.send(data)

    def transact(self, reqs, timeout=10.0, send=True):
        """Send every request of `reqs` [(seq, bytes, wait_ack)] in ONE
        sendmsg and collect the answers; returns the Replies in order."""
        pending = {}
        order = []
        for seq, data, wait_ack in reqs:
            pending[seq] = Reply(seq, wait_ack)
            order.append(seq)
        if send:
            self.sock.send(b"".join(r[1] for r in reqs))
        deadline = time.monotonic() + timeout
        left = len(pending)
        arrivals = 0
        while left:
            rem = deadline - time.monotonic()
            if rem <= 0:
                break
            rl, _, _ = select.select([self.sock], [], [], rem)
            if not rl:
                break
            try:
                buf = self.sock.recv(1 << 20)
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.overruns += 1
                    raise Fail("receive queue overrun (ENOBUFS): answers were lost")
                raise
            for mtype, mflags, mseq, mpid, body in split_msgs(buf):
                r = pending.get(mseq)
                if r is None or r.finished or mseq == 0:
                    self.ntf.append((mtype, mflags, mseq, mpid, body))
                    continue
                if mflags & NLM_F_DUMP_INTR:
                    r.intr = True
                if r.arrival is None:
                    r.arrival = arrivals
                    arrivals += 1
                if mtype == NLMSG_ERROR:
                    err = struct.unpack_from("i", body, 0)[0]
                    r.error = -err
                    if mflags & NLM_F_ACK_TLVS:
                        inner_len = struct.unpack_from("I", body, 4)[0]
                        off = 4 + (16 if mflags & NLM_F_CAPPED else ((inner_len + 3) & ~3))
                        r.extack = _parse_extack(body[off:])
                    r.finished = True
                elif mtype == NLMSG_DONE:
                    err = struct.unpack_from("i", body, 0)[0] if len(body) >= 4 else 0
                    r.error = -err
                    r.done = True
                    if mflags & NLM_F_ACK_TLVS:
                        r.extack = _parse_extack(body[4:])
                    r.finished = True
                else:
                    cmd = body[0] if body else None
                    r.msgs.append((cmd, body[4:], mflags))
                    if not r.wait_ack:
                        r.error = 0
                        r.finished = True
                if r.finished:
                    left -= 1
        out = []
        for seq in order:
            r = pending[seq]
            if not r.finished:
                r.timeout = True
            out.append(r)
        return out

    def request(self, cmd, payload=b"", dump=False, flags=None, timeout=10.0, **kw):
        if isinstance(payload, dict):
            payload = self.spec.encode(self._set_of(cmd), payload)
        if flags is None:
            flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        seq, data = self.message(cmd, payload, flags=flags, **kw)
        return self.transact([(seq, data, bool(flags & (NLM_F_ACK | NLM_F_DUMP)))], timeout=timeout)[0]

    def _set_of(self, cmd):
        name = cmd if isinstance(cmd, str) else self.spec.cmd_names[cmd]
        op = self.spec.ops[name]
        if "notify" in op:
            op = self.spec.ops[op["notify"]]
        return op["attribute-set"]

    def decode(self, cmd, payload):
        return self.spec.decode(self._set_of(cmd), payload)

    def wait_ntf(self, count, timeout=5.0, cmds=None):
        """Wait until `count` notifications (optionally of these genl cmds)
        were received; returns [(cmd, attrs bytes)]."""
        deadline = time.monotonic() + timeout
        while True:
            got = [(b[0], b[4:]) for (t, f, s, p, b) in self.ntf
                   if t == self.family_id and (cmds is None or b[0] in cmds)]
            if len(got) >= count:
                return got
            rem = deadline - time.monotonic()
            if rem <= 0:
                return got
            rl, _, _ = select.select([self.sock], [], [], rem)
            if not rl:
                continue
            try:
                buf = self.sock.recv(1 << 20)
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            self.ntf.extend(split_msgs(buf))

    def drain(self):
        while True:
            rl, _, _ = select.select([self.sock], [], [], 0)
            if not rl:
                return
            try:
                self.ntf.extend(split_msgs(self.sock.recv(1 << 20)))
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1


def split_msgs(buf):
    out = []
    off = 0
    while off + 16 <= len(buf):
        ln, typ, flags, seq, pid = struct.unpack_from("IHHII", buf, off)
        if ln < 16 or off + ln > len(buf):
            raise Fail(f"malformed netlink message from the kernel (len {ln})")
        out.append((typ, flags, seq, pid, buf[off + 16:off + ln]))
        off += (ln + 3) & ~3
    return out


# ---------------------------------------------------------------------------
# Convenience on top of RawGenl for the hasync family
# ---------------------------------------------------------------------------

def op_attrs(kind, rec):
    if kind in ("del", 1):
        name = rec if isinstance(rec, str) else rec["name"]
        return {"kind": 1, "iface": {"name": name}}
    return {"kind": 0, "iface": iface_attrs(rec)}


def iface_attrs(rec):
    """Attributes of a record as the tests send them (only given fields)."""
    if isinstance(rec, str):
        return {"name": rec}
    out = {}
    for k in ("name", "admin-up", "mtu", "mac", "vlan", "addr", "desc", "speed"):
        if k in rec:
            v = rec[k]
            if k == "mac":
                v = _mac(v)
            out[k] = v
    return out


def ops_names(ops):
    return [rec if isinstance(rec, str) else rec["name"] for _, rec in ops]


def update_payload_dict(channel, epoch, opid, ops, sections=None, cookie=None):
    if cookie is None:
        cookie = cookie_of(ops_names(ops), sections)
    return {"channel": channel, "epoch": epoch, "opid": opid, "cookie": cookie,
            "op": [op_attrs(k, r) for k, r in ops]}


def update_payload(channel, epoch, opid, ops, sections=None, cookie=None):
    return spec().encode("update", update_payload_dict(channel, epoch, opid, ops, sections, cookie))


def channel_info(raw, cid):
    r = raw.request("channel-get", {"id": cid})
    if r.error:
        raise Fail(f"channel-get {cid}: {r.describe()}")
    return _sorted_sections(raw.decode("channel-get", r.msgs[0][1]))


def _sorted_sections(ch):
    if "section" in ch:
        ch["section"].sort(key=lambda s: s.get("index", -1))
    return ch


def channel_dump(raw):
    r = raw.request("channel-get", dump=True)
    if r.error or r.timeout:
        raise Fail(f"channel-get dump: {r.describe()}")
    return [_sorted_sections(raw.decode("channel-get", m[1])) for m in r.msgs]


def entry_dump(raw, cid=None, section=None):
    attrs = {}
    if cid is not None:
        attrs["channel"] = cid
    if section is not None:
        attrs["section"] = section
    r = raw.request("entry-get", attrs, dump=True)
    if r.error or r.timeout:
        raise Fail(f"entry-get dump {attrs}: {r.describe()}")
    return [raw.decode("entry-get", m[1]) for m in r.msgs]


def snapshot(raw):
    """The state the malformed tests must not change, as raw bytes: every
    channel-get dump message and every record of every channel, each list
    sorted so the comparison does not depend on dump order."""
    r = raw.request("channel-get", dump=True)
    if r.error or r.timeout:
        raise Fail(f"channel-get dump: {r.describe()}")
    chans = sorted(bytes(m[1]) for m in r.msgs)
    ents = {}
    for p in chans:
        cid = raw.decode("channel-get", p)["id"]
        r = raw.request("entry-get", {"channel": cid}, dump=True)
        if r.error or r.timeout:
            raise Fail(f"entry-get dump {cid}: {r.describe()}")
        ents[cid] = sorted(bytes(m[1]) for m in r.msgs)
    return {"channels": chans, "entries": ents}


def snapshot_diff(raw, a, b, ignore=()):
    """Human-readable differences between two snapshots ([] when equal).
    `ignore` names channel attributes left out of the comparison."""
    diffs = []
    da = {raw.decode("channel-get", p)["id"]: raw.decode("channel-get", p) for p in a["channels"]}
    db = {raw.decode("channel-get", p)["id"]: raw.decode("channel-get", p) for p in b["channels"]}
    if ignore:
        for d in (da, db):
            for c in d.values():
                for k in ignore:
                    c.pop(k, None)
    elif a["channels"] != b["channels"] and da == db:
        diffs.append("channel dump bytes differ although they decode equal")
    for cid in sorted(set(da) | set(db)):
        ca, cb = da.get(cid), db.get(cid)
        if ca != cb:
            if ca is None or cb is None:
                diffs.append(f"channel {cid}: {'appeared' if ca is None else 'disappeared'}")
                continue
            for k in sorted(set(ca) | set(cb)):
                if ca.get(k) != cb.get(k):
                    if k == "section":
                        for sa, sb in zip(ca.get(k, []), cb.get(k, [])):
                            if sa != sb:
                                diffs.append(f"channel {cid} section {sa.get('index')}: {sa} -> {sb}")
                    else:
                        diffs.append(f"channel {cid} {k}: {ca.get(k)} -> {cb.get(k)}")
    for cid in sorted(set(a["entries"]) | set(b["entries"])):
        ea, eb = a["entries"].get(cid, []), b["entries"].get(cid, [])
        if ea != eb:
            na = {raw.decode("entry-get", p)["iface"]["name"]: p for p in ea}
            nb = {raw.decode("entry-get", p)["iface"]["name"]: p for p in eb}
            for n in sorted(set(na) | set(nb)):
                if na.get(n) != nb.get(n):
                    diffs.append(f"channel {cid} record {n}: "
                                 f"{'added' if n not in na else 'removed' if n not in nb else 'changed'}")
    return diffs


def kernel_records(entries):
    """norm_iface records from decoded entry-get messages."""
    return [norm_iface(e["iface"]) for e in entries]


def check_channel(raw, cid, model=None):
    """Digests and counts the kernel reports for a channel against (a) the
    Python reference over the records it dumps and (b) a Model, if given.
    Returns a list of problems."""
    probs = []
    ch = channel_info(raw, cid)
    n = ch.get("sections")
    secs = ch.get("section", [])
    if [s.get("index") for s in secs] != list(range(n or 0)):
        probs.append(f"section nests indexes {[s.get('index') for s in secs]} for {n} sections")
        return probs
    kdig = [s.get("digest") for s in secs]
    kcnt = [s.get("entries") for s in secs]
    recs = kernel_records(entry_dump(raw, cid))
    for e in entry_dump(raw, cid):
        nm = e["iface"]["name"]
        if e.get("channel") != cid:
            probs.append(f"record {nm} dumped with channel {e.get('channel')}")
        if e["iface"].get("section") != section_of(nm, n):
            probs.append(f"record {nm}: section {e['iface'].get('section')}, reference {section_of(nm, n)}")
    if ch.get("entries") != len(recs):
        probs.append(f"channel entries {ch.get('entries')} but {len(recs)} records dumped")
    if sum(kcnt) != ch.get("entries"):
        probs.append(f"section entries sum {sum(kcnt)} != channel entries {ch.get('entries')}")
    ref = digests(recs, n)
    if kdig != ref:
        bad = [i for i in range(n) if kdig[i] != ref[i]]
        probs.append("digests differ from the reference over the dumped records in sections "
                     + ", ".join(f"{i} (kernel {kdig[i]:#x}, ref {ref[i]:#x})" for i in bad[:8]))
    if section_counts(recs, n) != kcnt:
        probs.append(f"per-section entries {kcnt} != dumped {section_counts(recs, n)}")
    if model is not None:
        if model.sections != n:
            probs.append(f"model has {model.sections} sections, kernel {n}")
            return probs
        want = {r["name"]: canonical(r) for r in model.values()}
        got = {r["name"]: canonical(r) for r in recs}
        if want != got:
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            changed = sorted(k for k in set(want) & set(got) if want[k] != got[k])
            probs.append(f"records differ from the model: missing {missing[:10]}, extra {extra[:10]}, "
                         f"changed {changed[:10]}")
        if kdig != model.digests():
            probs.append("digests differ from the model's reference digests")
        if kcnt != model.counts():
            probs.append("per-section entries differ from the model")
    return probs


# ---------------------------------------------------------------------------
# YNL (the kernel's tools/net/ynl Python library)
# ---------------------------------------------------------------------------

_YNL = None


def ynl_lib():
    """(YnlFamily, NlError, ynl module) from $HASYNC_KDIR; fails loudly."""
    global _YNL
    if _YNL is None:
        if not KDIR:
            raise Fail("HASYNC_KDIR is not set (the VM runner exports it)")
        if not os.path.isfile(os.path.join(YNL_DIR, "lib", "ynl.py")):
            raise Fail(f"no YNL library at {YNL_DIR}/lib")
        if YNL_DIR not in sys.path:
            sys.path.insert(0, YNL_DIR)
        from lib import YnlFamily, NlError  # noqa: E402
        import lib.ynl as ynlmod  # noqa: E402
        _YNL = (YnlFamily, NlError, ynlmod)
    return _YNL


def ynl_forget_families():
    """YNL caches family ids per process; after a module reload they may
    change."""
    ynl_lib()[2].genl_family_name_to_id = None


def ynl_cookie(e):
    """The extack cookie of a YNL NlError (bytes or None)."""
    ext = e.nl_msg.extack or {}
    for a in ext.get("unknown", []):
        if a.type == NLMSGERR_ATTR_COOKIE:
            return bytes(a.raw)
    return None


class Client:
    """A YNL socket for the hasync family."""
    validated = False

    def __init__(self, validate=False):
        YnlFamily, NlError, _ = ynl_lib()
        self.NlError = NlError
        schema = SCHEMA_PATH if (validate or not Client.validated) else ""
        if schema and not os.path.isfile(schema):
            raise Fail(f"no genetlink schema at {schema}")
        try:
            self.ynl = YnlFamily(SPEC_PATH, schema)
        except KeyError:
            raise FamilyMissing("hasync family not registered")
        except Exception as e:
            if "not supported by the kernel" in str(e):
                raise FamilyMissing(str(e))
            raise
        Client.validated = True

    def do(self, op, attrs=None):
        return self.ynl.do(op, dict(attrs or {}))

    def dump(self, op, attrs=None):
        return self.ynl.dump(op, dict(attrs or {}))

    def subscribe(self, group):
        self.ynl.ntf_subscribe(group)

    def ntfs(self, count=1, timeout=5.0, name=None):
        deadline = time.monotonic() + timeout
        while True:
            self.ynl.check_ntf()
            got = [m for m in self.ynl.async_msg_queue if name is None or m["name"] == name]
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            select.select([self.ynl.sock], [], [], max(0.0, min(0.2, deadline - time.monotonic())))

    def close(self):
        self.ynl.sock.close()

    def channel(self, cid):
        return self.do("channel-get", {"id": cid})

    def update(self, channel, epoch, opid, ops, sections=None, cookie=None):
        if cookie is None:
            cookie = cookie_of(ops_names(ops), sections)
        return self.do("update", {"channel": channel, "epoch": epoch, "opid": opid, "cookie": cookie,
                                  "op": [op_attrs(k, r) for k, r in ops]})


# ---------------------------------------------------------------------------
# Module loading (through lib.sh, so there is one way to do it)
# ---------------------------------------------------------------------------

def _lib_sh(func, *args):
    script = '. "$(dirname "$0")/lib.sh" && ' + func + ' "$@"'
    return subprocess.run(["sh", "-c", script, os.path.join(SELFTEST_DIR, "hasync_nl.py"), *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def module_load(*params):
    ko = os.environ.get("HASYNC_KO", os.path.join(TOP, "kmod", "hasync.ko"))
    if not os.path.isfile(ko):
        raise Fail(f"missing {ko} (run 'make module' on the host)")
    p = _lib_sh("module_load", *params)
    if p.returncode:
        raise Fail(f"module_load {' '.join(params)} failed: {p.stdout.strip()}")
    if YNL_DIR in sys.path or _YNL is not None:
        ynl_forget_families()


def module_unload():
    p = _lib_sh("module_unload")
    if p.returncode:
        raise Fail(f"module_unload failed: {p.stdout.strip()}")


def module_param(name):
    with open(f"/sys/module/hasync/parameters/{name}") as f:
        return f.read().strip()


# ---------------------------------------------------------------------------
# Privilege drop
# ---------------------------------------------------------------------------

def run_unprivileged(fn, *args):
    """Run fn(*args) in a child that became nobody (uid/gid 65534, no
    groups, hence no capabilities) before opening anything; returns what fn
    returned (JSON-serialisable) or raises Fail with the child's error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with open("/proc/self/status") as f:
                capeff = [ln for ln in f if ln.startswith("CapEff:")][0].split()[1]
            if int(capeff, 16) != 0:
                raise Fail(f"capabilities left after setuid: {capeff}")
            res = {"ok": True, "value": fn(*args)}
        except BaseException:
            res = {"ok": False, "error": traceback.format_exc()}
        try:
            os.write(w, json.dumps(res).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    if not data:
        raise Fail("unprivileged child died without a result")
    res = json.loads(data)
    if not res["ok"]:
        raise Fail("unprivileged child failed:\n" + res["error"])
    return res["value"]


# ---------------------------------------------------------------------------
# KTAP for the Python test programs (same output as ktap.sh)
# ---------------------------------------------------------------------------

class Ktap:
    def __init__(self):
        self.cases = []
        self.n = 0
        self.passed = 0
        self.failed = 0

    def case(self, name):
        expect("#" not in name, "KTAP case names must not contain '#'")

        def deco(fn):
            self.cases.append((name, fn))
            return fn
        return deco

    @staticmethod
    def diag(*msg):
        for line in " ".join(str(m) for m in msg).splitlines() or [""]:
            print(f"# {line}", flush=True)

    def result(self, ok, name):
        self.n += 1
        if ok:
            self.passed += 1
            print(f"ok {self.n} {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} {name}", flush=True)

    def run(self, setup=None, teardown=None):
        print("TAP version 13")
        print(f"1..{len(self.cases)}", flush=True)
        setup_err = None
        if setup:
            try:
                setup()
            except BaseException:
                setup_err = traceback.format_exc()
                self.diag("setup failed:\n" + setup_err)
        for name, fn in self.cases:
            if setup_err:
                self.result(False, name)
                continue
            try:
                fn()
                self.result(True, name)
            except Fail as e:
                self.diag(str(e))
                self.result(False, name)
            except BaseException:
                self.diag(traceback.format_exc())
                self.result(False, name)
        if teardown:
            try:
                teardown()
            except BaseException:
                self.diag("teardown failed:\n" + traceback.format_exc())
                self.failed += 1
        self.diag(f"totals: pass:{self.passed} fail:{self.failed} skip:0")
        return 0 if self.failed == 0 else 1


# ---------------------------------------------------------------------------
# Self-test of the reference functions (Rust test vectors)
# ---------------------------------------------------------------------------

def self_test():
    t = Ktap()

    @t.case("fnv1a64 published vectors")
    def _():
        expect(fnv1a64(b"") == 0xCBF29CE484222325, "fnv1a64('')")
        expect(fnv1a64(b"a") == 0xAF63DC4C8601EC8C, "fnv1a64('a')")
        expect(fnv1a64(b"foobar") == 0x85944171F73967E8, "fnv1a64('foobar')")

    @t.case("mix64 vectors")
    def _():
        expect(mix64(0) == 0, "mix64(0)")
        expect(mix64(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF, "mix64(golden)")

    @t.case("section vectors")
    def _():
        expect(fnv1a64(b"eth0") == 0xC41BF7607A25A404, "fnv1a64(eth0)")
        expect(section_of("eth0", 1) == 0, "eth0/1")
        expect(section_of("eth0", 64) == 0x04, "eth0/64")
        expect(section_of("eth0", 8) == 0x04, "eth0/8")
        expect(fnv1a64(b"lo") == 0x08AD3907B553F8EC, "fnv1a64(lo)")
        expect(section_of("lo", 64) == 0x2C, "lo/64")
        expect(cookie_of(["eth0", "lo"], 64) == (1 << 4) | (1 << 0x2C), "cookie eth0+lo")
        expect(all_mask(64) == M64 and all_mask(8) == 0xFF and all_mask(1) == 1, "all_mask")

    sample = {"name": "eth0", "admin-up": 1, "mtu": 9000, "mac": bytes([2, 0, 0, 0, 0, 1]), "vlan": 42,
              "addr": [v6("2001:db8::1", 64), v4("10.0.0.1", 24)], "desc": "uplink"}

    @t.case("canonical encoding vector (table.rs sample)")
    def _():
        want = (bytes([4]) + b"eth0" + bytes([1]) + bytes([0, 0, 0x23, 0x28]) + bytes([2, 0, 0, 0, 0, 1])
                + bytes([0, 42]) + bytes([2]) + bytes([4, 24, 10, 0, 0, 1])
                + bytes([6, 64, 0x20, 1, 0x0D, 0xB8] + [0] * 11 + [1]) + bytes([6]) + b"uplink")
        expect(canonical(sample) == want, f"canonical(sample) = {canonical(sample).hex()}")
        expect(entry_hash(sample) == 0x391C75C0E67D04BE, f"entry_hash(sample) = {entry_hash(sample):#x}")

    @t.case("default record vector (table.rs lo)")
    def _():
        expect(canonical({"name": "lo"}) == bytes([2, ord("l"), ord("o"), 0, 0, 0, 5, 220] + [0] * 10),
               f"canonical(lo) = {canonical({'name': 'lo'}).hex()}")
        expect(entry_hash({"name": "lo"}) == 0x657D5C5272384F8D, "entry_hash(lo)")

    @t.case("release 2 record vector (vectors.rs wan0: speed, long desc)")
    def _():
        wan0 = {"name": "wan0", "admin-up": 1, "mac": bytes([2, 0, 0, 0, 0, 2]), "speed": 10000,
                "desc": "uplink to the provider's edge router, circuit 4711, contract 2026-0815, "
                        "escalate to the NOC"}
        expect(entry_hash(wan0) == 0xB55292DD39CAB464, f"entry_hash(wan0) = {entry_hash(wan0):#x}")

    @t.case("digests: wrapping sum, order independent, incremental")
    def _():
        rng = random.Random(7)
        recs = [norm_iface(random_record(rng, f"if{i}")) for i in range(200)]
        d1 = digests(recs, 8)
        d2 = digests(list(reversed(recs)), 8)
        expect(d1 == d2, "order dependent")
        m = Model(8)
        m.apply([("set", r) for r in recs])
        m.apply([("del", "if3"), ("del", "nope"), ("set", {"name": "if4", "mtu": 1000})])
        want = [r for r in recs if r["name"] not in ("if3", "if4")] + [norm_iface({"name": "if4", "mtu": 1000})]
        expect(m.digests() == digests(want, 8), "model digests")
        expect(all(0 <= x <= M64 for x in d1), "range")
        expect(sum(section_counts(recs, 8)) == 200, "counts")

    @t.case("spec: ids and enums match the generated uapi header")
    def _():
        s = spec()
        hdr = os.path.join(TOP, "kmod/include/uapi/linux/hasync.h")
        expect(os.path.exists(hdr), f"missing {hdr}")
        vals = {}
        for body in re.findall(r"enum(?: \w+)? \{(.*?)\};", open(hdr).read(), re.S):
            v = 0
            for m in re.finditer(r"(\w+)(?:\s*=\s*([^,\n]+))?,", body):
                if m.group(2):
                    e = m.group(2).strip()
                    v = int(e) if e.isdigit() else vals[e.strip("()").split()[0]] - 1
                vals[m.group(1)] = v
                v += 1
        up = lambda x: x.upper().replace("-", "_")
        n = 0
        for name, v in s.cmds.items():
            expect(vals.get(f"HASYNC_CMD_{up(name)}") == v, f"command {name}: spec {v}")
            n += 1
        for set_name, attrs in s.sets.items():
            for name, a in attrs.items():
                key = f"HASYNC_A_{up(set_name)}_{up(name)}"
                expect(vals.get(key) == a["id"], f"{key}: header {vals.get(key)}, spec {a['id']}")
                n += 1
        for ename, entries in s.enums.items():
            for name, v in entries.items():
                key = f"HASYNC_{up(ename)}_{up(name)}"
                expect(vals.get(key) == v, f"{key}: header {vals.get(key)}, spec {v}")
                n += 1
        expect(n > 60, f"only {n} values compared")
        enc = s.encode("update", {"channel": 1, "epoch": 2, "opid": 1 << 40, "cookie": 5,
                                  "op": [{"kind": "del", "iface": {"name": "x"}}]})
        dec = s.decode("update", enc)
        expect(dec == {"channel": 1, "epoch": 2, "opid": 1 << 40, "cookie": 5,
                       "op": [{"kind": 1, "iface": {"name": "x"}}]}, f"round trip {dec}")

    return t.run()


# ---------------------------------------------------------------------------
# Worker sub-commands for the shell tests
# ---------------------------------------------------------------------------

def _die(msg):
    print(f"hasync_nl: {msg}", file=sys.stderr)
    sys.exit(1)


def cmd_cookie(args):
    print(cookie_of(args.names, args.sections))


def _send_batch(raw, channel, epoch, opid0, batch_ops, sections):
    reqs = []
    for i, ops in enumerate(batch_ops):
        seq, data = raw.message("update", update_payload(channel, epoch, opid0 + i, ops, sections))
        reqs.append((seq, data, True))
    return raw.transact(reqs, timeout=30)


def _random_ops(rng, tag, names, sections):
    ops = []
    for _ in range(rng.randint(1, 3)):
        n = f"{tag}{rng.randrange(names)}"
        if rng.random() < 0.2:
            ops.append(("del", n))
        else:
            ops.append(("set", random_record(rng, n)))
    return ops


def cmd_sender(args):
    """Pipelined updates on one channel this process owns; checks every
    ACK, writes the resulting model."""
    raw = RawGenl(rcvbuf=8 << 20)
    if args.create:
        r = raw.request("channel-new", {"id": args.channel, "sections": args.sections})
        if r.error:
            _die(f"channel-new {args.channel}: {r.describe()}")
    ch = channel_info(raw, args.channel)
    opid = ch["register"] + 1
    epoch = max(args.epoch, ch["epoch"])
    rng = random.Random(args.seed)
    model = Model(args.sections)
    if ch["entries"]:
        _die("sender wants an empty channel")
    sent = 0
    while sent < args.count:
        n = min(args.batch, args.count - sent)
        batch = [_random_ops(rng, args.tag, args.names, args.sections) for _ in range(n)]
        replies = _send_batch(raw, args.channel, epoch, opid, batch, args.sections)
        for i, r in enumerate(replies):
            if r.error or not r.msgs:
                _die(f"update opid {opid + i}: {r.describe()}")
            ack = raw.decode("update", r.msgs[0][1])
            want = {"channel": args.channel, "opid": opid + i,
                    "cookie": cookie_of(ops_names(batch[i]), args.sections)}
            if {k: ack.get(k) for k in want} != want or ack.get("duplicate"):
                _die(f"ACK {ack} for {want}")
            model.apply(batch[i])
        opid += n
        sent += n
    with open(args.out, "w") as f:
        json.dump({"model": model.to_json(), "register": opid - 1}, f)


def cmd_racer(args):
    """Several racers share one channel: each keeps trying register+1,
    learning the register from EPROTO cookies and duplicate ACKs."""
    raw = RawGenl(rcvbuf=4 << 20)
    rng = random.Random(args.seed)
    model = Model(args.sections)
    applied = []
    stats = {"gap": 0, "dup": 0}
    guess = channel_info(raw, args.channel)["register"] + 1
    while len(applied) < args.count:
        ops = _random_ops(rng, args.tag, args.names, args.sections)
        [r] = _send_batch(raw, args.channel, 0, guess, [ops], args.sections)
        if r.error == errno.EPROTO:
            reg = r.cookie_u64()
            if reg is None:
                _die(f"EPROTO without a u64 register cookie: {r.describe()}")
            stats["gap"] += 1
            guess = reg + 1
            continue
        if r.error or not r.msgs:
            _die(f"update opid {guess}: {r.describe()}")
        ack = raw.decode("update", r.msgs[0][1])
        if ack.get("opid") != guess:
            _die(f"ACK opid {ack.get('opid')} for {guess}")
        if ack.get("duplicate"):
            stats["dup"] += 1
            guess += 1
            continue
        applied.append(guess)
        model.apply(ops)
        guess += 1
    with open(args.out, "w") as f:
        json.dump({"model": model.to_json(), "applied": applied, "stats": stats}, f)


def cmd_verify(args):
    """Check a channel against model files (union of disjoint models); with
    no model, only the kernel's digests against its own records."""
    raw = RawGenl()
    model = None
    for path in args.models:
        with open(path) as f:
            j = json.load(f)
        m = Model.from_json(j["model"])
        if model is None:
            model = Model(m.sections)
        model.records.update(m.records)
    probs = check_channel(raw, args.channel, model)
    ch = channel_info(raw, args.channel)
    if args.register is not None and ch["register"] != args.register:
        probs.append(f"register {ch['register']}, want {args.register}")
    if probs:
        _die(f"channel {args.channel}:\n  " + "\n  ".join(probs))
    print(f"channel {args.channel}: register {ch['register']}, {ch['entries']} records, digests match")


def _touch(path):
    if path:
        with open(path, "w") as f:
            f.write("ready\n")


def cmd_listen(args):
    """Collect notifications of one group until SIGTERM or --seconds."""
    raw = RawGenl(rcvbuf=16 << 20)
    raw.subscribe(args.group)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    _touch(args.ready)
    deadline = time.monotonic() + args.seconds
    msgs = []
    while not stop and time.monotonic() < deadline:
        try:
            rl, _, _ = select.select([raw.sock], [], [], 0.2)
        except InterruptedError:
            continue
        if not rl:
            continue
        try:
            buf = raw.sock.recv(1 << 20)
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                raw.overruns += 1
                continue
            raise
        for t, fl, seq, pid, body in split_msgs(buf):
            if t == raw.family_id:
                name = raw.spec.cmd_names.get(body[0], str(body[0]))
                msgs.append({"cmd": name, **{k: (v if not isinstance(v, bytes) else v.hex())
                                             for k, v in raw.decode(name, body[4:]).items()
                                             if not isinstance(v, (list, dict))}})
    raw.drain()
    with open(args.out, "w") as f:
        json.dump({"msgs": msgs, "overruns": raw.overruns}, f)


def cmd_dumper(args):
    """Dump channels and records in a loop; every dump must complete and
    decode, every channel message must be self-consistent."""
    raw = RawGenl(rcvbuf=8 << 20)
    deadline = time.monotonic() + args.seconds
    n = intr = 0
    while time.monotonic() < deadline:
        r = raw.request("channel-get", dump=True, timeout=30)
        if r.error or r.timeout:
            _die(f"channel-get dump: {r.describe()}")
        intr += r.intr
        for _, p, _ in r.msgs:
            c = raw.decode("channel-get", p)
            secs = c.get("section", [])
            if len(secs) != c["sections"] or sum(s["entries"] for s in secs) != c["entries"]:
                _die(f"inconsistent channel message: {c}")
            if c["sections"] and c["entries"] == 0 and any(s["digest"] for s in secs):
                _die(f"empty channel with a digest: {c}")
            re_ = raw.request("entry-get", {"channel": c["id"]}, dump=True, timeout=30)
            if re_.error == errno.ENOENT:
                continue
            if re_.error or re_.timeout:
                _die(f"entry-get dump {c['id']}: {re_.describe()}")
            intr += re_.intr
            for _, ep, _ in re_.msgs:
                e = raw.decode("entry-get", ep)
                nm = e["iface"]["name"]
                if e["iface"].get("section") != section_of(nm, c["sections"]):
                    _die(f"record {nm} in section {e['iface'].get('section')}")
        n += 1
    with open(args.out, "w") as f:
        json.dump({"dumps": n, "intr": intr}, f)


def cmd_claim(args):
    raw = RawGenl()
    r = raw.request("claim", {"id": [args.channel], "epoch": args.epoch})
    if r.error or not r.msgs:
        _die(f"claim: {r.describe()}")
    print(json.dumps(raw.decode("claim", r.msgs[0][1])["claimed"]))


def cmd_fenced_sender(args):
    """Send updates with a fixed epoch until fenced; report what applied."""
    raw = RawGenl(rcvbuf=8 << 20)
    rng = random.Random(args.seed)
    ch = channel_info(raw, args.channel)
    opid = ch["register"] + 1
    applied = 0
    fenced_by = None
    deadline = time.monotonic() + args.seconds
    _touch(args.ready)
    while time.monotonic() < deadline and fenced_by is None:
        batch = [_random_ops(rng, "f", 20, ch["sections"]) for _ in range(8)]
        for i, r in enumerate(_send_batch(raw, args.channel, args.epoch, opid, batch, ch["sections"])):
            if fenced_by is not None:
                if r.error not in (errno.ESTALE, errno.EPROTO):
                    _die(f"after being fenced: {r.describe()}")
                continue
            if r.error == errno.ESTALE:
                fenced_by = r.cookie_u32()
                if fenced_by is None:
                    _die(f"ESTALE without a u32 epoch cookie: {r.describe()}")
                continue
            if r.error:
                _die(f"update: {r.describe()}")
            applied += 1
        opid = ch["register"] + 1 + applied
    with open(args.out, "w") as f:
        json.dump({"applied": applied, "fenced_by": fenced_by, "first_opid": ch["register"] + 1}, f)


def cmd_hammer(args):
    """Load for the unload test: updates and dumps until the family goes
    away (exit 0) or --seconds pass (exit 0); anything else exits 2."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    gone = (errno.ENOENT, errno.EOPNOTSUPP, errno.ECONNREFUSED)
    try:
        raw = RawGenl(rcvbuf=8 << 20)
    except FamilyMissing:
        print("family gone before start")
        return
    rng = random.Random(args.seed)
    r = raw.request("channel-new", {"id": args.channel, "sections": 16})
    if r.error not in (0, errno.EEXIST):
        if r.error in gone:
            return
        _die(f"channel-new: {r.describe()}")
    _touch(args.ready)
    opid = None
    n = 0
    deadline = time.monotonic() + args.seconds
    while not stop and time.monotonic() < deadline:
        if opid is None:
            r = raw.request("channel-get", {"id": args.channel})
            if r.error in gone or r.timeout:
                break
            if r.error:
                _die(f"channel-get: {r.describe()}")
            opid = raw.decode("channel-get", r.msgs[0][1])["register"] + 1
        batch = [_random_ops(rng, "h", 30, 16) for _ in range(16)]
        replies = _send_batch(raw, args.channel, 0, opid, batch, 16)
        errs = {r.error for r in replies}
        if errs & set(gone) or any(r.timeout for r in replies):
            break
        for r in replies:
            if r.error == errno.EPROTO:
                opid = None
                break
            if r.error:
                _die(f"update: {r.describe()}")
            opid += 1
        if args.dump:
            d = raw.request("entry-get", {"channel": args.channel}, dump=True)
            if d.error in gone or d.timeout:
                break
            if d.error:
                _die(f"dump: {d.describe()}")
        n += 1
    print(f"hammer {args.channel}: {n} rounds")


def cmd_channel_new(args):
    raw = RawGenl()
    attrs = {"id": args.id, "sections": args.sections}
    if args.name:
        attrs["name"] = args.name
    r = raw.request("channel-new", attrs)
    if r.error:
        _die(f"channel-new {attrs}: {r.describe()}")


def cmd_update(args):
    """One update of `set` ops on bare names; prints the ACK as JSON."""
    raw = RawGenl()
    ch = channel_info(raw, args.channel)
    ops = [("set", n) for n in args.set]
    r = raw.request("update", update_payload(args.channel, args.epoch, args.opid, ops, ch["sections"]))
    if r.error or not r.msgs:
        _die(f"update: {r.describe()}")
    print(json.dumps(raw.decode("update", r.msgs[0][1])))


def cmd_tick(args):
    """An update every --interval seconds while process --while-pid lives;
    writes the ACKs."""
    raw = RawGenl()
    ch = channel_info(raw, args.channel)
    opid = ch["register"]
    acks = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        try:
            os.kill(args.while_pid, 0)
        except ProcessLookupError:
            break
        opid += 1
        name = f"tick{opid}"
        r = raw.request("update", update_payload(args.channel, ch["epoch"], opid, [("set", name)], ch["sections"]))
        if r.error or not r.msgs:
            _die(f"update: {r.describe()}")
        acks.append(raw.decode("update", r.msgs[0][1]))
        time.sleep(args.interval)
    with open(args.out, "w") as f:
        json.dump(acks, f)


def cmd_replayer(args):
    """The only writer of a channel: replays random sections in a loop,
    ending each replay by commit, abort or closing the socket; writes the
    model of what was committed."""
    raw = RawGenl()
    ch = channel_info(raw, args.channel)
    n = ch["sections"]
    model = Model(n)
    for e in entry_dump(raw, args.channel):
        model.apply([("set", e["iface"])])
    rng = random.Random(args.seed)
    reg = ch["register"]
    counts = collections.Counter()
    deadline = time.monotonic() + args.seconds
    sock = RawGenl()
    while time.monotonic() < deadline:
        mask = 0
        while not mask:
            mask = rng.getrandbits(n) & all_mask(n)
        opid = reg + rng.randint(0, 3)
        r = sock.request("replay-begin", {"channel": args.channel, "epoch": ch["epoch"], "opid": opid,
                                          "sections": mask})
        if r.error:
            _die(f"replay-begin: {r.describe()}")
        recs = []
        for i in range(rng.randint(0, 30)):
            nm = f"rp{rng.randrange(200)}"
            if mask >> section_of(nm, n) & 1 and nm not in [x["name"] for x in recs]:
                recs.append(random_record(rng, nm))
        for i in range(0, len(recs), 7):
            r = sock.request("replay-entries", {"channel": args.channel,
                                                "iface": [iface_attrs(x) for x in recs[i:i + 7]]})
            if r.error:
                _die(f"replay-entries: {r.describe()}")
        end = rng.choice(("commit", "commit", "abort", "close"))
        counts[end] += 1
        if end == "commit":
            r = sock.request("replay-commit", {"channel": args.channel})
            if r.error:
                _die(f"replay-commit: {r.describe()}")
            model.replace_sections(mask, recs)
            reg = opid
        elif end == "abort":
            r = sock.request("replay-abort", {"channel": args.channel})
            if r.error:
                _die(f"replay-abort: {r.describe()}")
        else:
            sock.close()
            sock = RawGenl()
    with open(args.out, "w") as f:
        json.dump({"model": model.to_json(), "register": reg, "ends": counts}, f)


def cmd_hold_replay(args):
    """Open a replay, stage records, and keep the socket open until
    SIGTERM; then exit (closing the socket)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    raw = RawGenl()
    ch = channel_info(raw, args.channel)
    n = ch["sections"]
    r = raw.request("replay-begin", {"channel": args.channel, "epoch": ch["epoch"],
                                     "opid": ch["register"] + 10, "sections": all_mask(n)})
    if r.error:
        _die(f"replay-begin: {r.describe()}")
    recs = [iface_attrs({"name": f"held{i}", "mtu": 1000 + i, "desc": "x" * 60}) for i in range(200)]
    for i in range(0, len(recs), 20):
        r = raw.request("replay-entries", {"channel": args.channel, "iface": recs[i:i + 20]})
        if r.error:
            _die(f"replay-entries: {r.describe()}")
    _touch(args.ready)
    while not stop:
        time.sleep(0.1)
    raw.close()


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--self-test", action="store_true", help="check the reference functions")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("cookie", help="print the cookie of names")
    s.add_argument("sections", type=int)
    s.add_argument("names", nargs="+")
    for name in ("sender", "racer"):
        s = sub.add_parser(name)
        s.add_argument("--channel", type=int, required=True)
        s.add_argument("--sections", type=int, default=16)
        s.add_argument("--count", type=int, default=200)
        s.add_argument("--batch", type=int, default=16)
        s.add_argument("--names", type=int, default=40)
        s.add_argument("--tag", default="s")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--epoch", type=int, default=0)
        s.add_argument("--create", action="store_true")
        s.add_argument("--out", required=True)
    s = sub.add_parser("verify")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--register", type=int)
    s.add_argument("models", nargs="*")
    s = sub.add_parser("listen")
    s.add_argument("--group", default="acks")
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--ready")
    s.add_argument("--out", required=True)
    s = sub.add_parser("dumper")
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--out", required=True)
    s = sub.add_parser("claim")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--epoch", type=int, required=True)
    s = sub.add_parser("fenced-sender")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--epoch", type=int, required=True)
    s.add_argument("--seconds", type=float, default=30)
    s.add_argument("--seed", type=int, default=3)
    s.add_argument("--ready")
    s.add_argument("--out", required=True)
    s = sub.add_parser("hammer")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--seed", type=int, default=5)
    s.add_argument("--dump", action="store_true")
    s.add_argument("--ready")
    s = sub.add_parser("channel-new")
    s.add_argument("--id", type=int, required=True)
    s.add_argument("--sections", type=int, default=64)
    s.add_argument("--name")
    s = sub.add_parser("update")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--epoch", type=int, default=0)
    s.add_argument("--opid", type=int, required=True)
    s.add_argument("--set", nargs="+", required=True)
    s = sub.add_parser("tick")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--while-pid", type=int, required=True)
    s.add_argument("--interval", type=float, default=0.3)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--out", required=True)
    s = sub.add_parser("replayer")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--seed", type=int, default=9)
    s.add_argument("--out", required=True)
    s = sub.add_parser("hold-replay")
    s.add_argument("--channel", type=int, required=True)
    s.add_argument("--ready")
    args = p.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.cmd:
        p.print_help()
        return 2
    try:
        fn = {"cookie": cmd_cookie, "sender": cmd_sender, "racer": cmd_racer, "verify": cmd_verify,
              "listen": cmd_listen, "dumper": cmd_dumper, "claim": cmd_claim,
              "fenced-sender": cmd_fenced_sender, "hammer": cmd_hammer,
              "hold-replay": cmd_hold_replay, "channel-new": cmd_channel_new, "update": cmd_update,
              "tick": cmd_tick, "replayer": cmd_replayer}[args.cmd]
        return fn(args) or 0
    except (Fail, FamilyMissing) as e:
        _die(str(e))


if __name__ == "__main__":
    sys.exit(main())
