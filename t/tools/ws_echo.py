#!/usr/bin/env python3
"""A minimal RFC 6455 WebSocket echo server for t/071-websocket.t (stdlib only).

    ws_echo.py PORT LOGFILE

Listens on 127.0.0.1:PORT.  For each upgrade request it appends one line
"METHOD PATH" to LOGFILE (so the test can tell which requests reached the
upstream), answers 101, sends as its first message

    auth=[<the Authorization header it received>] uri=<path>

and then echoes every text/binary message, answers pings, and returns the
close frame.  A request that is not a WebSocket upgrade gets a 400.  Prints
"ready" on stdout once it listens.
"""

import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOCK = threading.Lock()


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def send_frame(conn, opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    conn.sendall(head + payload)


def recv_frame(conn):
    b0, b1 = read_exact(conn, 2)
    opcode = b0 & 0x0F
    masked = b1 & 0x80
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(conn, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(conn, 8))[0]
    if not masked:
        raise ValueError("client frame not masked")
    mask = read_exact(conn, 4)
    data = bytearray(read_exact(conn, n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return b0 & 0x80, opcode, bytes(data)


def handle(conn, logfile):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
            if len(head) > 65536:
                return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        with LOCK, open(logfile, "a") as log:
            log.write("%s %s\n" % (method, path))
        key = hdrs.get("sec-websocket-key")
        if hdrs.get("upgrade", "").lower() != "websocket" or not key:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                     b"\r\n\r\n")
        first = "auth=[%s] uri=%s" % (hdrs.get("authorization", ""), path)
        send_frame(conn, 0x1, first.encode("latin-1"))
        while True:
            _fin, opcode, data = recv_frame(conn)
            if opcode == 0x8:
                send_frame(conn, 0x8, data[:2])
                return
            if opcode == 0x9:
                send_frame(conn, 0xA, data)
            elif opcode in (0x1, 0x2):
                send_frame(conn, opcode, data)
    except (EOFError, ValueError, OSError):
        return
    finally:
        conn.close()


def main():
    port, logfile = int(sys.argv[1]), sys.argv[2]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, logfile), daemon=True).start()


if __name__ == "__main__":
    main()
