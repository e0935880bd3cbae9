#!/usr/bin/python3
"""check_plugin.py - a magic_token_check plugin service (TEST ONLY).

magic-api-proxy's Let's Encrypt DNS-01 plugin as a service behind
magic_token_check, with its state in memory instead of Redis, and kept per
token (X-Magic-Token-Id) where the seed keeps one list for everyone:

  GET  /check      the decision: 204 for "POST /v2/domains/DOMAIN/records",
                   204 for "DELETE /v2/domains/DOMAIN/records/ID" when this
                   token's response hook saw record ID created, 403
                   otherwise; paths ending in "/slow" answer after 2 s (for the
                   proxy's timeout)
  POST /response   the response hook: with X-Magic-Token-Status 201, reads
                   domain_record.id from the JSON body and remembers the
                   delete for the token
  GET  /seen       what it was given, one JSON object a line

Usage: check_plugin.py PORT DOMAIN
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
allowed = {}        # token id -> set of "METHOD path"
seen = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per response: no delayed-ACK stall between head and body
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    root = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def given(self, body):
        h = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            seen.append({"method": self.command, "uri": self.path,
                         "headers": h, "body": body.decode("latin-1")})
        return h

    def do_GET(self):
        if self.path == "/seen":
            with lock:
                text = "".join(json.dumps(s) + "\n" for s in seen)
            return self.reply(200, text.encode())

        h = self.given(b"")
        method = h.get("x-magic-token-method", "")
        path = h.get("x-magic-token-path", "")
        token = h.get("x-magic-token-id", "")

        if path.endswith("/slow"):
            time.sleep(2)
            return self.reply(204)

        if method == "POST" and path == self.root:
            return self.reply(204)

        with lock:
            ok = "%s %s" % (method, path) in allowed.get(token, set())

        return self.reply(204 if ok else 403)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        h = self.given(body)

        if h.get("x-magic-token-status") == "201":
            try:
                rid = json.loads(body)["domain_record"]["id"]
            except (ValueError, KeyError, TypeError):
                rid = None
            if isinstance(rid, int):
                with lock:
                    allowed.setdefault(h.get("x-magic-token-id"), set()).add(
                        "DELETE %s/%d" % (self.root, rid))

        return self.reply(204)


def main():
    Handler.root = "/v2/domains/%s/records" % sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
