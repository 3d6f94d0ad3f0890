#!/usr/bin/env python3
"""A small replicated key-value store in Python (standard library only) that
speaks Gauntlet's wire protocol v2 (docs/protocol.md), to show how a system in
any language is tested with `gauntlet run --system exec:examples/pystore/system.yaml`.

Design: the node with the smallest id is the primary. Every read, write and cas
is served by the primary (other nodes forward to it), which makes a write
durable (appended to its log and fsynced) before acknowledging it, and pushes
its whole state to the other nodes every 200 ms, so that all replicas converge.

Transactions (POST /txn) run on the primary under the same lock as every
write: all their micro-ops are applied, and logged as one line, before any
other request sees the state (serializable, and strict serializable since the
primary serves every read).

Sets and counters (POST /set/{key}/add, GET /set/{key}, POST
/counter/{key}/add, GET /counter/{key}) are served by the primary too, each
add logged before it is acknowledged. A counter add carries a request id,
which the log keeps: an id is applied once, so Gauntlet may send an add again
when it did not hear the answer.

--lose-acked-writes is a deliberate bug: the primary acknowledges a write once
it is in memory and flushes its log only every second, so a primary killed in
that second forgets writes it acknowledged.

Locks (POST /lock/{name}/acquire and /release) are granted by the primary
with a lease and a fencing token (a counter): each grant and release is
logged and fsynced before it is answered, and a restarted primary restarts
every lease it reloads from its log (it never lets one end early).
--lock-in-memory is a deliberate bug: grants are not logged ("locks are
short-lived"), so a restarted primary has forgotten who holds what and
hands out tokens from 1 again.

--txn-op-by-op is another: a transaction runs micro-op by micro-op, each
logged and applied on its own under the lock, which is released in between
("so that a long transaction never holds up the others"). Other transactions
run in the gaps, so their writes interleave and their reads see half of one.
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
p.add_argument("--txn-op-by-op", action="store_true")
p.add_argument("--lock-in-memory", action="store_true")
args = p.parse_args()

peers = dict(kv.split("=", 1) for kv in args.peers.split(","))
primary = min(peers)
is_primary = args.id == primary
log_path = os.path.join(args.data, "log.jsonl")
lock = threading.Lock()
state = {}      # key -> value (registers)
lists = {}      # key -> list of values (what appends build)
pending = []    # log lines not yet on disk (--lose-acked-writes only)
locks = {}      # name -> [owner, token, ttl_ms, lease end (monotonic)]
next_token = [1]
sets = {}       # key -> list of elements, each once
counters = {}   # key -> int
counter_ids = set()  # request ids of the counter adds applied


def load():
    if os.path.exists(log_path):
        with open(log_path) as f:
            for line in f:
                if line.endswith("\n"):  # a torn last line was never acknowledged
                    apply_entry(json.loads(line))


def apply_entry(e):
    """A log line: {"k": key, "v": value} sets a register; {"w": {key: value},
    "a": [[key, value], ...]} is a transaction's writes and appends; {"lock":
    name, ...} a grant and {"unlock": name} a release, whose lease runs from
    now: when the log is reloaded, from the restart."""
    if "lock" in e:
        locks[e["lock"]] = [e["owner"], e["token"], e["ttl"], time.monotonic() + e["ttl"] / 1000.0]
        next_token[0] = max(next_token[0], e["token"] + 1)
        return
    if "unlock" in e:
        locks.pop(e["unlock"], None)
        return
    if "k" in e:
        state[e["k"]] = e["v"]
        return
    if "s" in e or "c" in e:
        return apply_set_counter(e)
    state.update(e.get("w", {}))
    for k, v in e.get("a", []):
        lists.setdefault(k, []).append(v)


def append_synced(lines):
    """Appends lines to the log: they are on disk when this returns."""
    with open(log_path, "a") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())


def persist(key, value):
    """Called with lock held: the write is durable when this returns (correct mode)."""
    persist_entry({"k": key, "v": value})


def persist_entry(entry):
    line = json.dumps(entry) + "\n"
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
            body = json.dumps({"state": state, "lists": lists, "sets": sets, "counters": counters})
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
                items = sorted(state.items()) + sorted(("list:" + k, v) for k, v in lists.items())
                items += sorted(("set:" + k, sorted(v)) for k, v in sets.items())
                items += sorted(("counter:" + k, v) for k, v in counters.items())
            h = hashlib.sha256("".join("%r=%r\n" % kv for kv in items).encode()).hexdigest()[:16]
            return self.reply(200, {"id": args.id, "digest": h, "keys": len(items)})
        if self.path.startswith(("/set/", "/counter/")):
            return self.set_counter("GET", None)
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
                synced = json.loads(data)
                with lock:
                    state.clear()
                    state.update(synced["state"])
                    lists.clear()
                    lists.update(synced["lists"])
                    sets.clear()
                    sets.update(synced.get("sets", {}))
                    counters.clear()
                    counters.update(synced.get("counters", {}))
            return self.reply(200, {})
        if self.path.startswith(("/set/", "/counter/")):
            return self.set_counter("POST", data)
        if self.path == "/txn":
            if not is_primary:
                return self.forward("POST", data)
            return self.txn(data)
        if self.path.startswith("/lock/"):
            if not is_primary:
                return self.forward("POST", data)
            return self.lock(data)
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

    def set_counter(self, method, data):
        kind, _, rest = self.path[1:].partition("/")
        add = method == "POST" and rest.endswith("/add")
        key = rest[:-len("/add")] if add else rest
        if not key or "/" in key or (method == "POST" and not add):
            return self.reply(404, {"error": "no route"})
        if add:
            try:
                req = json.loads(data)
                if kind == "set":
                    e = {"s": key, "e": req["element"]}
                    assert isinstance(e["e"], str)
                else:
                    e = {"c": key, "d": req["delta"], "id": req.get("id", "")}
                    assert isinstance(e["d"], int) and not isinstance(e["d"], bool)
            except (ValueError, KeyError, TypeError, AssertionError) as err:
                return self.reply(400, {"error": "bad %s add: %r" % (kind, err)})
        if not is_primary:
            return self.forward(method, data)
        with lock:
            if add:
                if not ("id" in e and e["id"] and e["id"] in counter_ids):
                    persist_entry(e)
                    apply_set_counter(e)
                return self.reply(200, {})
            if kind == "set":
                return self.reply(200, {"elements": list(sets.get(key, []))})
            return self.reply(200, {"value": counters.get(key, 0)})

    def txn(self, data):
        try:
            txn = json.loads(data)["txn"]
            for f, k, v in txn:
                assert f in ("r", "w", "append", "add") and isinstance(k, str)
                if f == "add":
                    int(v)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            return self.reply(400, {"error": "bad transaction: %r" % e})
        if args.txn_op_by_op:
            out = []
            for mop in txn:
                with lock:
                    done, refused = run_txn([mop])
                if refused:
                    return self.reply(504, {"error": refused + " (after earlier micro-ops were applied)"} if out else {"error": refused})
                out += done
            return self.reply(200, {"txn": out})
        with lock:
            out, refused = run_txn(txn)
        if refused:
            return self.reply(409, {"error": refused})
        return self.reply(200, {"txn": out})

    def lock(self, data):
        """POST /lock/{name}/acquire {"owner", "ttl_ms"} -> {"token"}, 409 while
        another's lease runs; /release {"owner", "token"} -> {}, 409 if not
        the holder."""
        parts = self.path.split("/")
        if len(parts) != 4 or parts[3] not in ("acquire", "release"):
            return self.reply(404, {"error": "no route"})
        try:
            req = json.loads(data)
            owner = req["owner"]
            assert isinstance(owner, str) and owner
            ttl = int(req["ttl_ms"]) if parts[3] == "acquire" else 0
            assert parts[3] == "release" or ttl > 0
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            return self.reply(400, {"error": "bad lock request: %r" % e})
        name = parts[2]
        with lock:
            cur = locks.get(name)
            if parts[3] == "acquire":
                if cur and time.monotonic() < cur[3]:
                    return self.reply(409, {"error": "%s is held by %s (token %d)" % (name, cur[0], cur[1])})
                entry = {"lock": name, "owner": owner, "token": next_token[0], "ttl": ttl}
            else:
                if not cur or cur[0] != owner or cur[1] != req.get("token"):
                    return self.reply(409, {"error": "%s is not held by %s with token %s" % (name, owner, req.get("token"))})
                entry = {"unlock": name}
            if not args.lock_in_memory:
                persist_entry(entry)
            apply_entry(entry)
        return self.reply(200, {"token": entry["token"]} if "token" in entry else {})


def apply_set_counter(e):
    """A log line {"s": key, "e": element} adds to a set; {"c": key, "d":
    delta, "id": id} adds to a counter, once per id."""
    if "s" in e:
        elems = sets.setdefault(e["s"], [])
        if e["e"] not in elems:
            elems.append(e["e"])
        return
    if e.get("id"):
        if e["id"] in counter_ids:
            return
        counter_ids.add(e["id"])
    counters[e["c"]] = counters.get(e["c"], 0) + e["d"]


def run_txn(txn):
    """Called with lock held: runs the micro-ops, logs their effects as one
    line and applies them. Returns (micro-ops with reads filled, None) or
    (None, why it is refused as a whole)."""
    writes, appends, out = {}, [], []
    for f, k, v in txn:
        if f == "r":
            if v is not None:  # [] asks for a list
                v = lists.get(k, []) + [x for (ak, x) in appends if ak == k]
            else:
                v = writes.get(k, state.get(k))
        elif f == "w":
            writes[k] = v
        elif f == "append":
            appends.append([k, v])
        elif f == "add":
            cur = writes.get(k, state.get(k, "0"))
            try:
                n = int(cur) + int(v)
            except ValueError:
                return None, "add %s: it holds %r, not an integer" % (k, cur)
            if n < 0:
                return None, "add %s %s: it holds %s, and would fall below zero" % (k, v, cur)
            writes[k] = str(n)
        out.append([f, k, v])
    if writes or appends:
        entry = {"w": writes, "a": appends}
        persist_entry(entry)
        apply_entry(entry)
    return out, None


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
