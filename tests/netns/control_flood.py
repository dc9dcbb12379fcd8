#!/usr/bin/env python3
"""tests/netns/control_flood.py SOCKET [--seconds S] [--clients N] [--seed X] — floods sluiced's
control socket (docs/control-protocol.md) with what a broken or hostile local client sends,
from N threads at once for S seconds, each thread picking one kind of client after another:

  garbage     a line of random printable text (not JSON), newline-terminated
  binary      random bytes, newlines and NULs included
  oversized   72 KiB without a newline (the limit is 64 KiB: control_protocol.h kMaxRequest)
  bigjson     a well-formed request whose args array takes 80 KiB, with its newline
  badjson     JSON that is not a request: {"args": 5}, [], {"args": []}, {"args": [1]}, ...
  silent      connects and sends nothing, holding the connection 6 s (past the 5 s limit)
  half        half a request line, then nothing for 6 s
  slowloris   one byte every 0.5 s, never a newline, for 6 s
  noread      a valid request (route show --all), then never reads the reply, 6 s
  hangup      connects and closes at once

Prints one line of JSON: per kind, the clients started, the replies the daemon sent (a status
line) and the errors seen on our side (refused connections, resets), plus the totals. Uses only
the standard library (no socat or nc on the test machines).
"""
import argparse
import json
import os
import random
import socket
import threading
import time

HOLD = 6.0  # seconds the stalling kinds hold their connection: past the daemon's 5 s timeout
KINDS = ["garbage", "binary", "oversized", "bigjson", "badjson", "silent", "half",
         "slowloris", "noread", "hangup"]


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(HOLD + 2)
    s.connect(path)
    return s


def read_reply(s):
    """The daemon's status line if it sent one before closing, else None."""
    buf = b""
    try:
        while b"\n" not in buf and len(buf) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    line = buf.split(b"\n", 1)[0]
    return line if line.startswith(b"{") else None


def one_client(path, kind, rng, stop):
    s = connect(path)
    try:
        if kind == "garbage":
            text = "".join(rng.choice("abcdefxyz {}[]\":,0123456789\\") for _ in range(rng.randint(1, 300)))
            s.sendall(text.encode() + b"\n")
        elif kind == "binary":
            s.sendall(os.urandom(rng.randint(1, 4096)) + b"\n")
        elif kind == "oversized":
            try:
                s.sendall(b"x" * (72 * 1024))
            except OSError:
                pass  # the daemon stopped reading at 64 KiB and answered
        elif kind == "bigjson":
            req = json.dumps({"args": ["route", "show"] + ["a" * 1000] * 80}) + "\n"
            try:
                s.sendall(req.encode())
            except OSError:
                pass
        elif kind == "badjson":
            s.sendall(rng.choice([b'{"args": 5}\n', b"[]\n", b'{"args": []}\n', b'{"args": [1]}\n',
                                  b'{"args": ["route", null]}\n', b'"args"\n', b"{}\n",
                                  b'{"args": ["' + b"\xff\xfe" + b'"]}\n']))
        elif kind in ("silent", "half", "slowloris", "noread"):
            if kind == "half":
                s.sendall(b'{"args": ["route", "sh')
            if kind == "noread":
                s.sendall(b'{"args": ["route", "show", "--all"]}\n')
            end = time.monotonic() + HOLD
            while time.monotonic() < end and not stop.is_set():
                if kind == "slowloris":
                    try:
                        s.sendall(b"a")
                    except OSError:
                        return None  # the daemon gave up on us
                time.sleep(0.5)
            if kind == "noread":
                return None
        elif kind == "hangup":
            return None
        return read_reply(s)
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=48)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    stats = {k: {"started": 0, "replies": 0, "errors": 0} for k in KINDS}
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + a.seconds

    def run(i):
        rng = random.Random(a.seed * 1000 + i)
        while time.monotonic() < deadline:
            kind = rng.choice(KINDS)
            replied = False
            err = False
            try:
                replied = one_client(a.socket, kind, rng, stop) is not None
            except OSError:
                err = True
                time.sleep(0.01)  # refused (backlog full): do not spin
            with lock:
                st = stats[kind]
                st["started"] += 1
                st["replies"] += replied
                st["errors"] += err

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.seconds + HOLD + 5)
    stop.set()
    total = {k: sum(st[k] for st in stats.values()) for k in ("started", "replies", "errors")}
    print(json.dumps({"clients": a.clients, "seconds": a.seconds, "kinds": stats, "total": total}))


if __name__ == "__main__":
    main()
