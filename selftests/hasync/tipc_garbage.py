#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send malformed frames to a hasyncd service and check it drops us.

Usage: tipc_garbage.py TYPE [INSTANCE]

Each case opens a fresh connection to {TYPE, INSTANCE}, sends its frames
and expects the daemon to close the connection (the replication service:
a bad handshake or a bad engine frame) or to answer with a bad-request
error and close (the control services). Exit 1 if the daemon kept a
connection open after garbage or answered anything else.
"""
import json
import os
import socket
import struct
import sys

HANDSHAKE = b"HSYD" + bytes([1, 1]) + struct.pack(">IQ", 0x5eed, 0) + bytes([7]) + b"garbage"


def cases():
    yield "random bytes", [os.urandom(64)]
    yield "one byte", [b"\x00"]
    yield "bad magic", [b"HSYX" + HANDSHAKE[4:]]
    yield "bad version", [HANDSHAKE[:4] + b"\x09" + HANDSHAKE[5:]]
    yield "short handshake", [HANDSHAKE[:10]]
    yield "handshake then garbage", [HANDSHAKE, os.urandom(200)]
    yield "handshake then truncated frame", [HANDSHAKE, b"HSYN\x01\x01\x00\x00\x00\xff"]
    yield "json with unknown field", [json.dumps({"id": 1, "body": {"set": {"name": "x", "colour": 1}}}).encode()]
    yield "json wrong type", [b'{"id":"one","body":"status"}']
    yield "truncated json", [b'{"id":1,"body":{"set":']
    yield "big frame", [b"{" * 60000]


def closed_or_refused(s):
    """True if the daemon closes (possibly after one bad-request reply)."""
    s.settimeout(5)
    try:
        while True:
            data = s.recv(70000)
            if not data:
                return True
            try:
                r = json.loads(data)
            except ValueError:
                # A replication service answers a handshake with its own.
                if data.startswith(b"HSYD"):
                    continue
                return False
            if r.get("body", {}).get("error", {}).get("kind") != "bad-request":
                return False
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def main():
    t = int(sys.argv[1])
    inst = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    failed = 0
    for name, frames in cases():
        s = socket.socket(socket.AF_TIPC, socket.SOCK_SEQPACKET)
        s.connect((socket.TIPC_ADDR_NAME, t, inst, 0))
        try:
            for f in frames:
                s.send(f)
        except OSError:
            pass
        ok = closed_or_refused(s)
        s.close()
        print(f"# {{{t},{inst}}} {name}: {'dropped' if ok else 'NOT dropped'}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
