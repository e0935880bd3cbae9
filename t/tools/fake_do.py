#!/usr/bin/python3
"""fake_do.py - a local stand-in for DigitalOcean's domain records API (TEST ONLY).

Serves on 127.0.0.1:PORT, for t/096-grants-dns01.t:

  POST   /v2/domains/DOMAIN/records       201 {"domain_record": {"id": N, ...}}
                                          with a fresh N; 422 when the body's
                                          "name" is "fail" (the error body
                                          carries an id too, that must grant
                                          nothing); "big" pads the record
                                          past 64 kB; "evil" answers an id
                                          of "../../account"
  GET    /v2/domains/DOMAIN/records       200 {"domain_records": [...]}
  DELETE /v2/domains/DOMAIN/records/N     204, or 404 when there is none
  GET    /calls                           one line per request seen:
                                          "METHOD PATH AUTHORIZATION"

Every API call must bear "Authorization: Bearer do-secret" (401 otherwise),
the credential the proxy decrypts from the magic token.

Usage: fake_do.py PORT
"""

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREDENTIAL = "Bearer do-secret"
RECORDS = re.compile(r"^/v2/domains/([a-z0-9.-]+)/records(?:/([0-9]+))?$")

lock = threading.Lock()
state = {"next": 3352890, "records": {}, "calls": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per response: no delayed-ACK stall between head and body
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def api(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""

        if self.path == "/calls" and method == "GET":
            with lock:
                text = "".join(c + "\n" for c in state["calls"])
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return

        with lock:
            state["calls"].append("%s %s %s" % (
                method, self.path, self.headers.get("Authorization", "-")))

        if self.headers.get("Authorization") != CREDENTIAL:
            return self.reply(401, {"id": "unauthorized",
                                    "message": "Unable to authenticate you"})

        m = RECORDS.match(self.path)
        if not m:
            return self.reply(404, {"id": "not_found", "message": "no route"})

        domain, rid = m.group(1), m.group(2)

        if method == "POST" and rid is None:
            try:
                req = json.loads(raw or b"{}")
            except ValueError:
                req = {}
            name = req.get("name", "_acme-challenge")
            if name == "fail":
                # an error whose body still names an id: no grant from it
                return self.reply(422, {"id": "unprocessable_entity",
                                        "message": "Name is invalid",
                                        "domain_record": {"id": 777}})
            with lock:
                state["next"] += 1
                new = state["next"]
                rec = {"id": new, "type": req.get("type", "TXT"),
                       "name": name, "data": req.get("data", ""),
                       "ttl": req.get("ttl", 30)}
                state["records"][(domain, new)] = rec
            out = dict(rec)
            if name == "big":
                out["padding"] = "x" * 70000
            if name == "evil":
                out["id"] = "../../account"
            return self.reply(201, {"domain_record": out})

        if method == "GET" and rid is None:
            with lock:
                recs = [r for (d, _), r in state["records"].items()
                        if d == domain]
            return self.reply(200, {"domain_records": recs})

        if method == "DELETE" and rid is not None:
            with lock:
                rec = state["records"].pop((domain, int(rid)), None)
            if rec is None:
                return self.reply(404, {"id": "not_found",
                                        "message": "The resource you were "
                                                   "accessing could not be "
                                                   "found."})
            return self.reply(204)

        return self.reply(405, {"id": "method_not_allowed", "message": "no"})

    def do_GET(self):
        self.api("GET")

    def do_POST(self):
        self.api("POST")

    def do_DELETE(self):
        self.api("DELETE")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
