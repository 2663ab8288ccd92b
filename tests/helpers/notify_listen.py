#!/usr/bin/env python3
"""Stand-in for systemd's notify socket: binds a unix datagram socket at
argv[1] and appends every message it receives to argv[2], one per line
(newlines inside a message become spaces), until killed or argv[3] seconds
(default 30) pass."""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(out + ".ready", "w").close()
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        msg, _ = s.recvfrom(65536)
    except socket.timeout:
        break
    with open(out, "a") as f:
        f.write(msg.decode(errors="replace").replace("\n", " ") + "\n")
os.unlink(path)
