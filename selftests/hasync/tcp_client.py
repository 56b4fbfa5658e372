#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A raw client of hasyncd's TCP face, for what the CLI never sends.

Usage: tcp_client.py ADDR PORT SECRET MODE [SOURCE]

MODE:
  plain     one request without SEQ and MAC
  forged    one request signed with another secret
  replay    a signed status request, then the same line again
  skip      a signed request with sequence number 2 first
  status    one signed status request (from SOURCE, if given)
  stream    one connection, request after request until the file SOURCE
            exists: odd requests set st0's MTU on channel 1 (from 1281 up),
            even ones read status; every reply must be the next id and a
            change must be confirmed. Prints requests, the last MTU set and
            the stalls (answers that took over 200 ms): median and worst.

Prints each reply line, or "closed" / "closed without greeting"; the exit
status is 0 when the server behaved as the mode expects (see expect()).
"""

import hashlib
import hmac
import json
import socket
import sys

DOMAIN = b"hasync control request v1\0"


def sign(secret, nonce, seq, body):
    m = hmac.new(secret, DOMAIN + nonce + seq.to_bytes(8, "big") + body, hashlib.sha256)
    return b"%d %s %s\n" % (seq, m.hexdigest().encode(), body)


def stream(s, r, secret, nonce, stop):
    import os
    import time
    k = 0
    stalls = []
    last_mtu = None
    while not os.path.exists(stop):
        k += 1
        if k % 2:
            mtu = 1281 + (k // 2) % 7000
            body = {"id": k, "body": {"set": {"name": "st0", "channel": 1, "mtu": mtu}}}
        else:
            body = {"id": k, "body": "status"}
        t0 = time.monotonic()
        s.sendall(sign(secret, nonce, k, json.dumps(body, separators=(",", ":")).encode()))
        line = r.readline()
        took = (time.monotonic() - t0) * 1000
        if not line:
            print(f"connection closed at request {k}")
            return 1
        msg = json.loads(line)
        if msg.get("id") != k:
            print(f"request {k} answered as {msg.get('id')}: {line[:200]!r}")
            return 1
        reply = msg.get("body", {})
        if k % 2 and "confirmed" not in reply:
            print(f"change {k} not confirmed: {line[:200]!r}")
            return 1
        if k % 2:
            last_mtu = mtu
        if not k % 2 and "status" not in reply:
            print(f"status {k}: {line[:200]!r}")
            return 1
        if took > 200:
            stalls.append(took)
    stalls.sort()
    med = stalls[len(stalls) // 2] if stalls else 0
    worst = stalls[-1] if stalls else 0
    print(f"requests {k} answered once each, in order; last mtu {last_mtu}; "
          f"stalls {len(stalls)} median {med:.0f} ms worst {worst:.0f} ms")
    return 0


def main():
    addr, port, secret_file, mode = sys.argv[1:5]
    source = sys.argv[5] if len(sys.argv) > 5 else None
    with open(secret_file, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    s = socket.socket()
    s.settimeout(10)
    if source and mode != "stream":
        s.bind((source, 0))
    s.connect((addr, int(port)))
    r = s.makefile("rb")
    greeting = r.readline()
    if not greeting:
        print("closed without greeting")
        return 0 if mode == "status" and source else 1
    nonce = bytes.fromhex(greeting.split()[-1].decode())
    if mode == "stream":
        s.settimeout(60)
        return stream(s, r, secret, nonce, source)
    body = b'{"id":7,"body":"status"}'
    if mode == "plain":
        s.sendall(body + b"\n")
    elif mode == "forged":
        s.sendall(sign(b"x" * 32, nonce, 1, body))
    elif mode == "replay":
        line = sign(secret, nonce, 1, body)
        s.sendall(line)
        print(r.readline().decode().strip()[:80])
        s.sendall(line)
    elif mode == "skip":
        s.sendall(sign(secret, nonce, 2, body))
    elif mode == "status":
        s.sendall(sign(secret, nonce, 1, body))
    else:
        sys.exit(f"unknown mode {mode}")
    reply = r.readline()
    if not reply:
        print("closed")
        return 1
    msg = json.loads(reply)
    print(json.dumps(msg)[:160])
    if mode == "status":
        return 0 if "status" in msg.get("body", {}) and not source else 1
    # A refusal, then the end of the connection.
    if msg.get("body", {}).get("error", {}).get("kind") != "unauthorized":
        return 1
    if r.readline():
        print("connection still open after a refusal")
        return 1
    print("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
