#!/usr/bin/env python3
"""A small replicated key-value store in Python (standard library only) that
speaks Gauntlet's wire protocol v1 (docs/protocol.md), to show how a system in
any language is tested with `gauntlet run --system exec:examples/pystore/system.yaml`.

Design: the node with the smallest id is the primary. Every read, write and cas
is served by the primary (other nodes forward to it), which makes a write
durable (appended to its log and fsynced) before acknowledging it, and pushes
its whole state to the other nodes every 200 ms, so that all replicas converge.

--lose-acked-writes is a deliberate bug: the primary acknowledges a write once
it is in memory and flushes its log only every second, so a primary killed in
that second forgets writes it acknowledged.
"""
import argparse
import hashlib
import http.client
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--id", required=True)
p.add_argument("--listen", required=True)
p.add_argument("--peers", required=True, help="id=host:port,... (every node, itself included)")
p.add_argument("--data", required=True)
p.add_argument("--lose-acked-writes", action="store_true")
args = p.parse_args()

peers = dict(kv.split("=", 1) for kv in args.peers.split(","))
primary = min(peers)
is_primary = args.id == primary
log_path = os.path.join(args.data, "log.jsonl")
lock = threading.Lock()
state = {}      # key -> value
pending = []    # log lines not yet on disk (--lose-acked-writes only)


def load():
    if os.path.exists(log_path):
        with open(log_path) as f:
            for line in f:
                if line.endswith("\n"):  # a torn last line was never acknowledged
                    e = json.loads(line)
                    state[e["k"]] = e["v"]


def append_synced(lines):
    """Appends lines to the log: they are on disk when this returns."""
    with open(log_path, "a") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())


def persist(key, value):
    """Called with lock held: the write is durable when this returns (correct mode)."""
    line = json.dumps({"k": key, "v": value}) + "\n"
    if args.lose_acked_writes:
        pending.append(line)
        return
    append_synced([line])


def flusher():
    while True:
        time.sleep(1.0)
        with lock:
            lines = pending[:]
            del pending[:]
        if lines:
            append_synced(lines)


def pusher():
    """The primary pushes its whole state to every other node."""
    while True:
        time.sleep(0.2)
        with lock:
            body = json.dumps(state)
        for nid, addr in peers.items():
            if nid != args.id:
                try:
                    call(addr, "POST", "/internal/sync", body, timeout=0.5)
                except OSError:
                    pass


def call(addr, method, path, body=None, timeout=1.0):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def forward(self, method, data):
        """Not the primary: ask it. Refused = certainly not applied (503);
        no answer after sending = may have happened (504)."""
        try:
            code, out = call(peers[primary], method, self.path, data or None)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except ConnectionRefusedError as e:
            self.reply(503, {"error": "primary refused: %s" % e})
        except (OSError, http.client.HTTPException) as e:
            self.reply(504, {"error": "primary did not answer: %s" % e})

    def do_GET(self):
        if self.path == "/debug/status":
            return self.reply(200, {"id": args.id, "role": "leader" if is_primary else "follower", "leader": primary})
        if self.path.startswith("/debug/digest"):
            with lock:
                items = sorted(state.items())
            h = hashlib.sha256("".join("%r=%r\n" % kv for kv in items).encode()).hexdigest()[:16]
            return self.reply(200, {"id": args.id, "digest": h, "keys": len(items)})
        if not self.path.startswith("/kv/"):
            return self.reply(404, {"error": "no route"})
        if not is_primary:
            return self.forward("GET", None)
        key = self.path[len("/kv/"):]
        with lock:
            found = key in state
            return self.reply(200, {"value": state.get(key, ""), "found": found})

    def do_PUT(self):
        data = self.body()
        if not self.path.startswith("/kv/"):
            return self.reply(404, {"error": "no route"})
        if not is_primary:
            return self.forward("PUT", data)
        key = self.path[len("/kv/"):]
        value = json.loads(data)["value"]
        with lock:
            persist(key, value)
            state[key] = value
        self.reply(200, {})

    def do_POST(self):
        data = self.body()
        if self.path == "/internal/sync":
            if not is_primary:
                with lock:
                    state.clear()
                    state.update(json.loads(data))
            return self.reply(200, {})
        if not (self.path.startswith("/kv/") and self.path.endswith("/cas")):
            return self.reply(404, {"error": "no route"})
        if not is_primary:
            return self.forward("POST", data)
        key = self.path[len("/kv/"):-len("/cas")]
        req = json.loads(data)
        with lock:
            if state.get(key) != req["from"] or key not in state:
                return self.reply(409, {"ok": False, "value": state.get(key, ""), "found": key in state})
            persist(key, req["to"])
            state[key] = req["to"]
        self.reply(200, {"ok": True})


os.makedirs(args.data, exist_ok=True)
load()
if is_primary:
    threading.Thread(target=pusher, daemon=True).start()
    if args.lose_acked_writes:
        threading.Thread(target=flusher, daemon=True).start()
host, port = args.listen.rsplit(":", 1)
ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer((host, int(port)), Handler)
server.daemon_threads = True
print("pystore %s listening on %s (primary %s)" % (args.id, args.listen, primary), flush=True)
server.serve_forever()
