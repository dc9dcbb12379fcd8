#!/usr/bin/env python3
"""perf/soak/flows.py — short UDP and TCP flows for scripts/soak, so that NAT sessions are
created all the time (and, once idle, expire).

  flows.py server [--udp PORT] [--tcp PORT]
      echoes every UDP datagram, and the first bytes of every TCP connection, back.
  flows.py client --dst ADDR [--udp-port P] [--tcp-port P] --src A,B,... [--rate N]
                  [--tcp-share F] [--threads T] [--timeout S] --stats FILE
      N flows a second (default 20), each from one of the source addresses and a fresh
      ephemeral port: a UDP datagram and its echo, or a TCP connection that sends, reads the
      echo and closes. A share F of them (default 0.33) is TCP (1: TCP only, 0: UDP only).

The client writes its counts as JSON to FILE every 5 s and when SIGTERM or SIGINT stops it:
flows started, succeeded and failed per protocol, the failures by reason, flows not started
because every thread was busy (waiting out timeouts), and a timeline of 5 s buckets
(seconds since start, succeeded, failed) so that failures can be put next to link flaps.
Standard library only; run inside a network namespace (`ip netns exec NS python3 flows.py ...`).
"""

import argparse
import errno
import json
import os
import queue
import random
import signal
import socket
import socketserver
import sys
import threading
import time

BUCKET_S = 5


def serve(a):
    """UDP and TCP echo servers, until killed."""
    threads = []
    if a.udp:
        def udp_loop():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", a.udp))
            while True:
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)
        threads.append(threading.Thread(target=udp_loop, daemon=True))
    if a.tcp:
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                try:
                    data = self.request.recv(2048)
                    if data:
                        self.request.sendall(data)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 256

        srv = Server(("0.0.0.0", a.tcp), Echo)
        threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    for t in threads:
        t.start()
    print(f"flows server: udp {a.udp or '-'} tcp {a.tcp or '-'} ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.c = {p: {"started": 0, "ok": 0, "failed": 0} for p in ("udp", "tcp")}
        self.reasons = {}
        self.skipped = 0
        self.buckets = {}  # bucket index -> [ok, failed]

    def done(self, proto, ok, reason=None):
        with self.lock:
            self.c[proto]["ok" if ok else "failed"] += 1
            b = self.buckets.setdefault(int((time.monotonic() - self.t0) // BUCKET_S), [0, 0])
            b[0 if ok else 1] += 1
            if not ok:
                key = f"{proto}:{reason}"
                self.reasons[key] = self.reasons.get(key, 0) + 1

    def doc(self):
        with self.lock:
            return {"elapsed_s": round(time.monotonic() - self.t0, 1), "flows": self.c,
                    "failures": dict(self.reasons), "not_started_busy": self.skipped,
                    "timeline": [[k * BUCKET_S, v[0], v[1]] for k, v in sorted(self.buckets.items())]}


def reason_of(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def one_flow(a, proto, src):
    """One flow; raises on failure. A fresh socket each time: a fresh source port."""
    payload = os.urandom(16).hex().encode()
    if proto == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(a.timeout)
            s.bind((src, 0))
            s.sendto(payload, (a.dst, a.udp_port))
            data, _ = s.recvfrom(2048)
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(a.timeout)
            # connect() picks the port, so that ports in TIME_WAIT are not offered by bind().
            s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
            s.bind((src, 0))
            s.connect((a.dst, a.tcp_port))
            s.sendall(payload)
            data = b""
            while len(data) < len(payload):
                chunk = s.recv(2048)
                if not chunk:
                    break
                data += chunk
    if data != payload:
        raise ValueError("echo differs")


def client(a):
    counts = Counts()
    stop = threading.Event()
    work = queue.Queue(maxsize=a.threads)
    srcs = a.src.split(",")

    def worker():
        while True:
            item = work.get()
            if item is None:
                return
            proto, src = item
            try:
                one_flow(a, proto, src)
                counts.done(proto, True)
            except (OSError, ValueError) as e:
                counts.done(proto, False, reason_of(e))

    def write():
        tmp = a.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(counts.doc(), f)
        os.replace(tmp, a.stats)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(a.threads)]
    for t in pool:
        t.start()
    rng = random.Random()
    period = 1.0 / a.rate
    next_t = time.monotonic()
    next_write = next_t + BUCKET_S
    while not stop.is_set():
        proto = "tcp" if rng.random() < a.tcp_share else "udp"
        try:
            work.put_nowait((proto, rng.choice(srcs)))
            with counts.lock:
                counts.c[proto]["started"] += 1
        except queue.Full:
            with counts.lock:
                counts.skipped += 1
        now = time.monotonic()
        if now >= next_write:
            write()
            next_write = now + BUCKET_S
        next_t += period
        if next_t < now - 1:  # fell behind (a loaded machine): no burst to catch up
            next_t = now
        stop.wait(max(0.0, next_t - time.monotonic()))
    # Flows in progress end within --timeout; they are counted before the last write.
    for _ in pool:
        try:
            work.put(None, timeout=a.timeout + 1)
        except queue.Full:
            break
    for t in pool:
        t.join(a.timeout + 1)
    write()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--udp", type=int, default=0)
    s.add_argument("--tcp", type=int, default=0)
    c = sub.add_parser("client")
    c.add_argument("--dst", required=True)
    c.add_argument("--udp-port", type=int, default=7000)
    c.add_argument("--tcp-port", type=int, default=7001)
    c.add_argument("--src", required=True, help="source addresses, comma-separated")
    c.add_argument("--rate", type=float, default=20, help="flows per second")
    c.add_argument("--tcp-share", type=float, default=0.33)
    c.add_argument("--threads", type=int, default=16)
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("--stats", required=True)
    a = ap.parse_args()
    if a.mode == "server":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        serve(a)
    else:
        client(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
