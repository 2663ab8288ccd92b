#!/usr/bin/env python3
# A local stand-in for the Cloudflare API (the public one cannot be reached
# from tests), shaped like it: GET {base}/accounts/{account}/cfd_tunnel/{id}
# with "Authorization: Bearer <token>" answers the Cloudflare envelope
# {"success", "errors", "messages", "result": {"id", "name", "status"}}.
# It also serves cloudflared-style readiness endpoints: GET /ready/<name>.
#
# Behaviour comes from a JSON script the test (re)writes at any time:
#   { "tokens":  { "<account_id>": "<token>" },          wrong token: 403
#     "tunnels": { "<tunnel_id>": [ step, step, ... ] },   one step a request,
#                                                          the last repeats
#     "ready":   { "<name>": { "code": 200, "conns": 4 } } }
# A step: {"status": "healthy"} (200), {"code": 500}, {"code": 429,
# "retry_after": "2"}, {"code": 401}, {"body": "<html>"} (200, not JSON),
# {"success": false, "error": [1003, "Invalid tunnel"]} (200, API error),
# any of them with "delay_ms": N. A tunnel whose steps change in the script
# starts over at its first step.
#
# Every request is logged as one JSON line to --log: {"t": monotonic
# seconds (the same clock as time.monotonic() elsewhere on the host),
# "path", "tunnel", "auth": true|false, "code", "status"}, written when the
# answer has been sent.
# Usage: cf_mock.py --script FILE --log FILE [--addr 127.0.0.1] [--port 0]
# Prints "listening PORT" once ready.
import argparse
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TUNNEL_RE = re.compile(r"^/client/v4/accounts/([0-9a-f]{32})/cfd_tunnel/([0-9a-fA-F-]{36})$")
READY_RE = re.compile(r"^/ready/([A-Za-z0-9_.-]+)$")


class Script:
    def __init__(self, path):
        self.path, self.mtime, self.data = path, None, {}
        self.pos, self.lock = {}, threading.Lock()

    def _reload(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self.mtime:
            return
        with open(self.path) as f:
            new = json.load(f)
        old = self.data.get("tunnels", {})
        for tid, steps in new.get("tunnels", {}).items():
            if old.get(tid) != steps:
                self.pos[tid] = 0
        self.data, self.mtime = new, mtime

    def token(self, account):
        with self.lock:
            self._reload()
            return self.data.get("tokens", {}).get(account)

    def step(self, tid):
        with self.lock:
            self._reload()
            steps = self.data.get("tunnels", {}).get(tid)
            if not steps:
                return None
            i = self.pos.get(tid, 0)
            self.pos[tid] = i + 1
            return steps[min(i, len(steps) - 1)]

    def ready(self, name):
        with self.lock:
            self._reload()
            return self.data.get("ready", {}).get(name)


def envelope(success, result=None, errors=()):
    return {"success": success, "errors": [{"code": c, "message": m} for c, m in errors],
            "messages": [], "result": result}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, headers=(), tunnel=None, auth=None, status=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        line = {"t": time.monotonic(), "path": self.path, "tunnel": tunnel, "auth": auth,
                "code": code, "status": status}
        with self.server.log_lock:
            self.server.log.write(json.dumps(line) + "\n")
            self.server.log.flush()

    def do_GET(self):
        script = self.server.script
        m = READY_RE.match(self.path)
        if m:
            r = script.ready(m.group(1)) or {"code": 503, "conns": 0}
            return self.reply(r.get("code", 200), {"status": r.get("code", 200),
                                                   "readyConnections": r.get("conns", 0)})
        m = TUNNEL_RE.match(self.path)
        if not m:
            return self.reply(404, envelope(False, errors=[(7003, "Could not route")]))
        account, tid = m.groups()
        want = script.token(account)
        auth = want is not None and self.headers.get("Authorization") == "Bearer " + want
        if not auth:
            return self.reply(403, envelope(False, errors=[(10000, "Authentication error")]),
                              tunnel=tid, auth=False)
        st = script.step(tid)
        if st is None:
            return self.reply(404, envelope(False, errors=[(1003, "Tunnel not found")]),
                              tunnel=tid, auth=True)
        if st.get("delay_ms"):
            time.sleep(st["delay_ms"] / 1000.0)
        if "status" in st:
            res = {"id": tid, "name": "t-" + tid[:8], "status": st["status"], "connections": []}
            return self.reply(200, envelope(True, res), tunnel=tid, auth=True,
                              status=st["status"])
        if "body" in st:
            return self.reply(200, st["body"].encode(), tunnel=tid, auth=True)
        if st.get("success") is False:
            code, msg = st.get("error", [1000, "error"])
            return self.reply(200, envelope(False, errors=[(code, msg)]), tunnel=tid, auth=True)
        code = st.get("code", 500)
        headers = [("Retry-After", str(st["retry_after"]))] if "retry_after" in st else []
        msg = {401: "Unauthorized", 429: "Rate limited", 500: "Internal error"}.get(code, "error")
        return self.reply(code, envelope(False, errors=[(code, msg)]), headers, tunnel=tid,
                          auth=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = ThreadingHTTPServer((a.addr, a.port), Handler)
    srv.daemon_threads = True
    srv.script = Script(a.script)
    srv.log = open(a.log, "a")
    srv.log_lock = threading.Lock()
    print("listening", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
