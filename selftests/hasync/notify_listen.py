#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Play systemd's notification socket: bind SOCKET (a path) and append each
datagram to OUT as one line, its newlines shown as '|', until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    print("listening", file=f)
    while True:
        msg = s.recv(4096).decode(errors="replace")
        print(msg.replace("\n", "|"), file=f)
