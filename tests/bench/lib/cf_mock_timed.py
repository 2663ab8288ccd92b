#!/usr/bin/env python3
# tests/helpers/cf_mock.py for the tunnel bench (tests/bench/tunnels.sh),
# unchanged but for three things:
# - each log line also has "t0": when the request was read (time.monotonic(),
#   as "t", which stays when the answer had been sent), so that a polling
#   cycle can be timed from its first request to its last answer;
# - the listening socket's backlog is 1024 instead of socketserver's 5: 100
#   requests connecting at once would otherwise overflow the accept queue
#   and some would wait for a SYN retransmission (1 s), the stand-in's delay,
#   not the poller's;
# - TCP_NODELAY on its connections: http.server writes the headers and the
#   body of an answer separately, and with Nagle's algorithm the body may
#   wait for the client's ACK of the headers (a delayed ACK on a reused
#   connection: milliseconds), after the log has said "sent".
# Same arguments and output as cf_mock.py.
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "helpers"))
import cf_mock  # noqa: E402

_req = threading.local()	# one thread per connection: its request's t0
_do_get = cf_mock.Handler.do_GET


def do_get(self):
    _req.t0 = time.monotonic()
    return _do_get(self)


cf_mock.Handler.do_GET = do_get
cf_mock.Handler.disable_nagle_algorithm = True	# StreamRequestHandler: TCP_NODELAY


class T0Log:
    """The log file: adds the request's t0 to each line cf_mock writes."""

    def __init__(self, f):
        self.f = f

    def write(self, s):
        line = json.loads(s)
        line["t0"] = getattr(_req, "t0", None)
        return self.f.write(json.dumps(line) + "\n")

    def flush(self):
        self.f.flush()


class Server(cf_mock.ThreadingHTTPServer):
    request_queue_size = 1024

    @property
    def log(self):
        return self._log

    @log.setter
    def log(self, f):
        self._log = T0Log(f)


cf_mock.ThreadingHTTPServer = Server

if __name__ == "__main__":
    cf_mock.main()
