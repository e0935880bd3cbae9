#!/usr/bin/python3
"""echo_upstream.py - an upstream that sends the credential back (TEST ONLY).

Serves on 127.0.0.1:PORT, for t/053-scrub.t.  The credential is what
follows "Bearer " in the request's Authorization header; every path
echoes it (or does not) in its own way:

  /raw        body: the Authorization header and the credential, as JSON
  /forms      body: base64 and base64url, padded and not, of the
              credential, of "user:" + credential (Basic), of "x" and
              "xy" + credential (the 3 alignments); percent-encoded
              (upper and lower hex, form encoding, encodeURIComponent)
  /headers    the same forms in response headers (X-Echo-*, Set-Cookie,
              Location), an empty body
  /chunked    chunked, the body cut into chunks of 1 to 7 bytes, so that
              chunks end inside the credential at every offset
  /big        about 200 KiB with the credential at offsets on and around
              1 KiB and 8 KiB boundaries, Content-Length
  /huge       4 MiB, the credential every 100 KiB and 7 bytes
  /sse        text/event-stream, the credential in events, sent one by
              one (chunked)
  /trailers   chunked with the credential in a trailer
  /gzip       gzip'ed body with Content-Encoding: gzip, whatever the
              request's Accept-Encoding
  /range      206 with Content-Range when the request has a Range
  /clean      a body without the credential, Content-Length

Usage: echo_upstream.py PORT
"""

import base64
import gzip
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def forms(cred):
    raw = cred.encode()
    out = []
    for prefix in (b"", b"user:", b"x", b"xy"):
        std = base64.b64encode(prefix + raw)
        url = base64.urlsafe_b64encode(prefix + raw)
        out += [std, std.rstrip(b"="), url, url.rstrip(b"=")]
    q = urllib.parse.quote(cred, safe="")
    out += [q.encode(), q.lower().encode(),
            urllib.parse.quote_plus(cred).encode(),
            urllib.parse.quote(cred, safe="!'()*-._~").encode()]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def cred(self):
        auth = self.headers.get("Authorization") or ""
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else auth

    def send_body(self, body, ctype="text/plain", extra=()):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunked(self, pieces, trailers=(), ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        if trailers:
            self.send_header("Trailer", ", ".join(k for k, _ in trailers))
        self.end_headers()
        for p in pieces:
            if p:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                self.wfile.flush()
        self.wfile.write(b"0\r\n")
        for k, v in trailers:
            self.wfile.write(("%s: %s\r\n" % (k, v)).encode())
        self.wfile.write(b"\r\n")
        self.wfile.flush()

    def do_GET(self):
        cred = self.cred()
        raw = cred.encode()
        path = self.path.split("?")[0].rsplit("/", 1)[-1]

        if path == "raw":
            body = json.dumps({"authorization": "Bearer " + cred,
                               "token": cred}).encode()
            self.send_body(body, "application/json")

        elif path == "forms":
            self.send_body(b"\n".join(b"[" + f + b"]" for f in forms(cred)))

        elif path == "headers":
            extra = [("X-Echo-%d" % i, f.decode())
                     for i, f in enumerate(forms(cred))]
            extra += [("X-Echo-Auth", "Bearer " + cred),
                      ("Set-Cookie", "t=" + urllib.parse.quote(cred, safe="")),
                      ("Location", "/next?token="
                       + urllib.parse.quote(cred, safe=""))]
            self.send_body(b"", extra=extra)

        elif path == "chunked":
            text = b"before " + raw + b" middle " + raw + b" after"
            pieces, i, n = [], 0, 1
            while i < len(text):
                pieces.append(text[i:i + n])
                i += n
                n = n % 7 + 1
            self.chunked(pieces)

        elif path == "big":
            body = bytearray(b"." * (200 * 1024))
            for off in (0, 1023, 1024 - len(raw) // 2, 4095,
                        8192 - len(raw) // 2, 8191, 8192, 65536 - 3,
                        len(body) - len(raw)):
                body[off:off + len(raw)] = raw
            self.send_body(bytes(body))

        elif path == "huge":
            body = bytearray(b"." * (4 << 20))
            for off in range(0, len(body) - len(raw), 100 * 1024 + 7):
                body[off:off + len(raw)] = raw
            self.send_body(bytes(body))

        elif path == "sse":
            events = [b"data: hello\n\n", b"data: " + raw + b"\n\n",
                      b"data: {\"auth\": \"Bearer " + raw + b"\"}\n\n",
                      b"data: bye\n\n"]
            self.chunked(events, ctype="text/event-stream")

        elif path == "trailers":
            self.chunked([b"body without it\n"],
                         trailers=[("X-Echo", cred)])

        elif path == "gzip":
            body = gzip.compress(b"token: " + raw + b"\n")
            self.send_body(body, extra=[("Content-Encoding", "gzip")])

        elif path == "range":
            body = b"token: " + raw + b"\n"
            if self.headers.get("Range"):
                part = body[:10]
                self.send_response(206)
                self.send_header("Content-Range",
                                 "bytes 0-9/%d" % len(body))
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)
            else:
                self.send_body(body)

        elif path == "clean":
            self.send_body(b"nothing secret here, just text " * 100)

        else:
            self.send_body(b"no such echo\n")


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
