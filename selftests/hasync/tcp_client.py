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


def main():
    addr, port, secret_file, mode = sys.argv[1:5]
    source = sys.argv[5] if len(sys.argv) > 5 else None
    with open(secret_file, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    s = socket.socket()
    s.settimeout(10)
    if source:
        s.bind((source, 0))
    s.connect((addr, int(port)))
    r = s.makefile("rb")
    greeting = r.readline()
    if not greeting:
        print("closed without greeting")
        return 0 if mode == "status" and source else 1
    nonce = bytes.fromhex(greeting.split()[-1].decode())
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
