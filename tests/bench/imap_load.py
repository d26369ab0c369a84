#!/usr/bin/env python3
"""IMAP load generator (Python 3 standard library only).

CLIENTS connections, spread over PROCS worker processes (asyncio in each), log in, SELECT INBOX
and then, until DURATION seconds have passed, issue one command at a time chosen at random by
weight: UID FETCH of a 20-message range (UID FLAGS), FETCH BODY.PEEK[] of one message, FETCH
(ENVELOPE BODYSTRUCTURE), UID STORE +FLAGS/-FLAGS (\\Seen), UID SEARCH UNSEEN, UID SEARCH
SUBJECT "bench", APPEND of a ~4 KiB message (synchronising literal), SELECT INBOX, NOOP and a
short IDLE (IDLE, wait for "+", DONE). Before the timed phase every mailbox is filled with APPEND
up to SEED messages. Every command's latency is recorded by name; a tagged NO/BAD, a timeout or
a protocol error counts as an error.

Prints a summary (commands, commands/s, errors, per command count and p50/p95/p99 in ms) and one
machine-readable last line:
    RESULT commands_per_s=<x> errors=<n> p50_ms=<x> p99_ms=<x>

Examples:
    imap_load.py --port 10143 --user-format 'u{n}@anchor.test' --password anchor --clients 10 --duration 10
    imap_load.py --port 11143 --user-format 'u{n}@bench.test' --password secret123
"""
import argparse
import asyncio
import multiprocessing as mp
import os
import random
import re
import sys
import time

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$", re.I)
EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE\r\n$", re.I)
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]", re.I)
LINE_LIMIT = 64 * 1024 * 1024
COMMAND_TIMEOUT = 60.0

DEFAULT_WEIGHTS = {
    "uid_fetch_flags": 20,
    "fetch_body": 15,
    "fetch_env_bs": 15,
    "uid_store": 10,
    "search_unseen": 5,
    "search_subject": 5,
    "append": 5,
    "select": 5,
    "noop": 10,
    "idle": 5,
}


class ImapError(Exception):
    """A tagged NO/BAD or a protocol violation."""


class Literal:
    """Part of a command sent as a synchronising literal {n}."""

    def __init__(self, data):
        self.data = data


def astring(s):
    """A user name or password as an IMAP astring: quoted if it can be, else a literal."""
    b = s.encode("utf-8")
    if any(c >= 0x80 or c in (0, 10, 13) for c in b):
        return Literal(b)
    return b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Client:
    """Minimal IMAP4rev1 client on asyncio streams: one command in flight, literals in both directions."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.tag_n = 0
        self.prefix = "A"
        self.exists = 0
        self.uids = []

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=LINE_LIMIT)
        greeting = await self.read_response()
        if not greeting.startswith((b"* OK", b"* PREAUTH")):
            raise ImapError("bad greeting: " + short(greeting))

    def close(self):
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:
                pass
            self.writer = None

    async def read_response(self):
        """One server response: a line plus, for every {n} at a line's end, n bytes and the line after."""
        try:
            line = await self.reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as e:
            raise ImapError("connection closed by server" + (": " + short(e.partial) if e.partial else ""))
        parts = [line]
        while True:
            m = LITERAL_AT_END.search(line)
            if not m:
                break
            try:
                parts.append(await self.reader.readexactly(int(m.group(1))))
                line = await self.reader.readuntil(b"\r\n")
            except asyncio.IncompleteReadError:
                raise ImapError("connection closed inside a literal")
            parts.append(line)
        return b"".join(parts)

    def note_untagged(self, resp):
        m = EXISTS.match(resp)
        if m:
            self.exists = int(m.group(1))
            return
        m = EXPUNGE.match(resp)
        if m:
            self.exists = max(0, self.exists - 1)

    async def read_until_tagged(self, tag, untagged):
        """Reads responses until the tagged one; untagged ones go to the list. Returns the tagged line."""
        while True:
            resp = await self.read_response()
            if resp.startswith(tag + b" "):
                status = resp[len(tag) + 1:len(tag) + 4].upper()
                if status.startswith(b"OK"):
                    return resp
                raise ImapError(short(resp))
            if resp.startswith(b"*"):
                self.note_untagged(resp)
                untagged.append(resp)
            elif resp.startswith(b"+"):
                raise ImapError("unexpected continuation: " + short(resp))
            else:
                raise ImapError("unparseable response: " + short(resp))

    async def wait_continuation(self, tag, untagged):
        while True:
            resp = await self.read_response()
            if resp.startswith(b"+"):
                return
            if resp.startswith(tag + b" "):
                raise ImapError(short(resp))
            if resp.startswith(b"*"):
                self.note_untagged(resp)
                untagged.append(resp)
            else:
                raise ImapError("unparseable response: " + short(resp))

    def next_tag(self):
        self.tag_n += 1
        return f"{self.prefix}{self.tag_n}".encode()

    async def command(self, *parts):
        """Sends one command (parts: bytes or Literal) and returns (untagged responses, tagged line)."""
        tag = self.next_tag()
        untagged = []
        buf = tag
        for p in parts:
            if isinstance(p, Literal):
                self.writer.write(buf + b" {%d}\r\n" % len(p.data))
                await self.writer.drain()
                await self.wait_continuation(tag, untagged)
                self.writer.write(p.data)
                buf = b""
            else:
                buf += b" " + p
        self.writer.write(buf + b"\r\n")
        await self.writer.drain()
        tagged = await self.read_until_tagged(tag, untagged)
        return untagged, tagged

    async def login(self, user, password):
        await self.command(b"LOGIN", astring(user), astring(password))

    async def select(self):
        self.exists = 0
        untagged, _ = await self.command(b"SELECT", b"INBOX")
        return untagged

    async def load_uids(self):
        untagged, _ = await self.command(b"UID", b"SEARCH", b"ALL")
        uids = []
        for r in untagged:
            if r[:9].upper() == b"* SEARCH ":
                uids.extend(int(x) for x in r[9:].split())
            elif r.strip().upper() == b"* SEARCH":
                pass
        self.uids = sorted(uids)

    async def append(self, msg):
        untagged, tagged = await self.command(b"APPEND", b"INBOX", Literal(msg))
        m = APPENDUID.search(tagged)
        if m:
            self.uids.append(int(m.group(1)))

    async def idle(self):
        tag = self.next_tag()
        untagged = []
        self.writer.write(tag + b" IDLE\r\n")
        await self.writer.drain()
        await self.wait_continuation(tag, untagged)
        self.writer.write(b"DONE\r\n")
        await self.writer.drain()
        await self.read_until_tagged(tag, untagged)

    async def logout(self):
        try:
            await asyncio.wait_for(self.command(b"LOGOUT"), 5)
        except Exception:
            pass
        self.close()


def short(b, n=200):
    s = b.decode("utf-8", "replace").rstrip("\r\n")
    return s if len(s) <= n else s[:n] + "..."


_WORDS = ("grain", "mail", "silo", "orleans", "bench", "mailbox", "message", "latency", "throughput",
          "dovecot", "postfix", "index", "flags", "search", "envelope", "literal", "append", "fetch")


def make_message(rng, i, size=4096):
    """A ~size-byte message; odd ones multipart/alternative so BODYSTRUCTURE has parts."""
    def text(n):
        out, length = [], 0
        while length < n:
            line = " ".join(rng.choice(_WORDS) for _ in range(10))
            out.append(line)
            length += len(line) + 2
        return "\r\n".join(out)

    head = (f"From: Bench Sender <sender@bench.example>\r\n"
            f"To: Bench Receiver <receiver@bench.example>\r\n"
            f"Subject: bench message {i} {rng.choice(_WORDS)}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"Message-ID: <{os.getpid()}.{i}.{rng.getrandbits(48):x}@bench.example>\r\n"
            f"MIME-Version: 1.0\r\n")
    body_len = max(64, size - len(head) - 200)
    if i % 2:
        b = f"b{rng.getrandbits(64):x}"
        half = body_len // 2
        msg = (head + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
               f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text(half)}\r\n"
               f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text(half - 120)}</p>\r\n"
               f"--{b}--\r\n")
    else:
        msg = head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text(body_len) + "\r\n"
    return msg.encode()


def user_for(args, n):
    return args.user if args.user else args.user_format.format(n=n)


# ---------------------------------------------------------------- seeding (parent process)

async def seed_one(args, user, rng, sem):
    async with sem:
        c = Client(args.host, args.port)
        try:
            await asyncio.wait_for(c.connect(), COMMAND_TIMEOUT)
            await asyncio.wait_for(c.login(user, args.password), COMMAND_TIMEOUT)
            await asyncio.wait_for(c.select(), COMMAND_TIMEOUT)
            added = 0
            for i in range(c.exists, args.seed_messages):
                await asyncio.wait_for(c.append(make_message(rng, i)), COMMAND_TIMEOUT)
                added += 1
            await c.logout()
            return added, None
        except Exception as e:
            c.close()
            return 0, f"{user}: seeding failed: {type(e).__name__}: {e}"


async def seed_all(args):
    users = sorted({user_for(args, n) for n in range(1, args.clients + 1)})
    sem = asyncio.Semaphore(min(16, len(users)))
    rng = random.Random(1)
    results = await asyncio.gather(*(seed_one(args, u, rng, sem) for u in users))
    return sum(r[0] for r in results), [r[1] for r in results if r[1]]


# ---------------------------------------------------------------- workers

class Stats:
    def __init__(self):
        self.lat = {}
        self.errs = {}
        self.first_errors = []

    def ok(self, name, seconds):
        self.lat.setdefault(name, []).append(seconds)

    def error(self, name, text):
        self.errs[name] = self.errs.get(name, 0) + 1
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{name}: {text}")


async def op(c, name, rng):
    """Runs one command of the mix; raises ImapError if the answer is wrong."""
    if c.exists == 0 and name in ("fetch_body", "fetch_env_bs", "uid_store"):
        name = "append"  # empty mailbox: nothing to fetch yet
    exists = max(1, c.exists)
    if name == "uid_fetch_flags":
        if c.uids:
            i = rng.randrange(len(c.uids))
            lo, hi = c.uids[i], c.uids[min(i + 19, len(c.uids) - 1)]
        else:
            lo = rng.randint(1, exists)
            hi = lo + 19
        await c.command(b"UID", b"FETCH", b"%d:%d" % (lo, hi), b"(UID FLAGS)")
    elif name == "fetch_body":
        untagged, _ = await c.command(b"FETCH", b"%d" % rng.randint(1, exists), b"BODY.PEEK[]")
        if c.exists and not any(b"BODY[]" in r[:300].upper() for r in untagged):
            raise ImapError("FETCH BODY.PEEK[] returned no BODY[]")
    elif name == "fetch_env_bs":
        untagged, _ = await c.command(b"FETCH", b"%d" % rng.randint(1, exists), b"(ENVELOPE BODYSTRUCTURE)")
        if c.exists and not any(b"ENVELOPE" in r.upper() and b"BODYSTRUCTURE" in r.upper() for r in untagged):
            raise ImapError("FETCH (ENVELOPE BODYSTRUCTURE) returned no ENVELOPE/BODYSTRUCTURE")
    elif name == "uid_store":
        uid = rng.choice(c.uids) if c.uids else rng.randint(1, exists)
        sign = b"+" if rng.random() < 0.5 else b"-"
        await c.command(b"UID", b"STORE", b"%d" % uid, sign + b"FLAGS", b"(\\Seen)")
    elif name == "search_unseen":
        untagged, _ = await c.command(b"UID", b"SEARCH", b"UNSEEN")
        if not any(r[:8].upper() == b"* SEARCH" for r in untagged):
            raise ImapError("UID SEARCH returned no * SEARCH")
    elif name == "search_subject":
        untagged, _ = await c.command(b"UID", b"SEARCH", b"SUBJECT", b'"bench"')
        if not any(r[:8].upper() == b"* SEARCH" for r in untagged):
            raise ImapError("UID SEARCH returned no * SEARCH")
    elif name == "append":
        await c.append(make_message(rng, rng.randrange(1_000_000)))
    elif name == "select":
        await c.select()
    elif name == "noop":
        await c.command(b"NOOP")
    elif name == "idle":
        await c.idle()
    else:
        raise ValueError(name)


async def open_client(args, n, stats, sem):
    async with sem:
        c = Client(args.host, args.port)
        c.prefix = f"C{n}."
        try:
            await asyncio.wait_for(c.connect(), COMMAND_TIMEOUT)
            await asyncio.wait_for(c.login(user_for(args, n), args.password), COMMAND_TIMEOUT)
            await asyncio.wait_for(c.select(), COMMAND_TIMEOUT)
            await asyncio.wait_for(c.load_uids(), COMMAND_TIMEOUT)
            return c
        except Exception as e:
            c.close()
            stats.error("setup", f"client {n}: {type(e).__name__}: {e}")
            return None


async def run_client(args, n, c, deadline, stats, names, weights):
    rng = random.Random(n * 7919 + os.getpid())
    while time.monotonic() < deadline:
        if c is None:  # reconnect after a protocol error
            c = await open_client(args, n, stats, asyncio.Semaphore(1))
            if c is None:
                await asyncio.sleep(0.5)
                continue
        name = rng.choices(names, weights)[0]
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(op(c, name, rng), COMMAND_TIMEOUT)
            stats.ok(name, time.perf_counter() - t0)
        except ImapError as e:
            stats.error(name, str(e))
            if "connection closed" in str(e) or "unparseable" in str(e) or "unexpected" in str(e):
                c.close()
                c = None
        except (asyncio.TimeoutError, OSError, asyncio.LimitOverrunError, ValueError) as e:
            stats.error(name, f"{type(e).__name__}: {e}")
            c.close()
            c = None
    if c is not None:
        await c.logout()


async def worker_main(args, client_ns, barrier, weights):
    stats = Stats()
    sem = asyncio.Semaphore(50)
    clients = await asyncio.gather(*(open_client(args, n, stats, sem) for n in client_ns))
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, barrier.wait, 600)
    except Exception:
        pass
    start = time.monotonic()
    deadline = start + args.duration
    names = list(weights)
    ws = [weights[k] for k in names]
    await asyncio.gather(*(run_client(args, n, c, deadline, stats, names, ws)
                           for n, c in zip(client_ns, clients) if c is not None))
    return {"start": start, "end": time.monotonic(), "lat": stats.lat, "errs": stats.errs,
            "first_errors": stats.first_errors, "clients_ok": sum(1 for c in clients if c is not None)}


def worker_entry(args, client_ns, barrier, weights, queue):
    try:
        res = asyncio.run(worker_main(args, client_ns, barrier, weights))
    except BaseException as e:  # report instead of dying silently
        try:
            barrier.abort()
        except Exception:
            pass
        res = {"fatal": f"{type(e).__name__}: {e}"}
    queue.put(res)


# ---------------------------------------------------------------- summary

def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse_weights(text):
    w = dict(DEFAULT_WEIGHTS)
    if text:
        for item in text.split(","):
            k, _, v = item.partition("=")
            k = k.strip()
            if k not in w:
                raise SystemExit(f"unknown command in --weights: {k} (known: {', '.join(w)})")
            w[k] = float(v)
    return {k: v for k, v in w.items() if v > 0}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--user-format", help="user name per client, {n} = 1..CLIENTS, e.g. 'u{n}@bench.test'")
    g.add_argument("--user", help="one user name for all clients")
    p.add_argument("--password", required=True)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--procs", type=int, default=0, help="worker processes (default: min(clients, CPUs))")
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--seed-messages", type=int, default=200)
    p.add_argument("--tls", choices=["no"], default="no", help="only plain TCP is supported")
    p.add_argument("--weights", default="", help="override the mix, e.g. 'append=0,idle=10' (names: "
                   + ", ".join(DEFAULT_WEIGHTS) + ")")
    p.add_argument("--label", default="", help="printed in the summary header")
    args = p.parse_args()
    weights = parse_weights(args.weights)
    if not weights:
        raise SystemExit("all weights are zero")
    procs = args.procs or min(args.clients, os.cpu_count() or 1)
    procs = max(1, min(procs, args.clients))

    t = time.monotonic()
    added, seed_errors = asyncio.run(seed_all(args))
    for e in seed_errors[:5]:
        print(e, file=sys.stderr)
    print(f"seeded: {added} messages appended in {time.monotonic() - t:.1f}s", flush=True)
    if seed_errors:
        print(f"RESULT commands_per_s=0 errors={len(seed_errors)} p50_ms=0 p99_ms=0")
        return 1

    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs + 1)
    queue = ctx.Queue()
    groups = [list(range(1 + i, args.clients + 1, procs)) for i in range(procs)]
    workers = [ctx.Process(target=worker_entry, args=(args, g, barrier, weights, queue), daemon=True) for g in groups]
    for w in workers:
        w.start()
    try:
        barrier.wait(600)
    except Exception:
        pass
    results = [queue.get(timeout=args.duration + 1200) for _ in workers]
    for w in workers:
        w.join(10)

    fatal = [r["fatal"] for r in results if "fatal" in r]
    for f in fatal:
        print("worker failed: " + f, file=sys.stderr)
    results = [r for r in results if "fatal" not in r]
    lat, errs, first = {}, {}, []
    for r in results:
        for k, v in r["lat"].items():
            lat.setdefault(k, []).extend(v)
        for k, v in r["errs"].items():
            errs[k] = errs.get(k, 0) + v
        first.extend(r["first_errors"])
    start = min((r["start"] for r in results), default=0)
    end = max((r["end"] for r in results), default=0)
    elapsed = max(end - start, 1e-9)
    total = sum(len(v) for v in lat.values())
    n_err = sum(errs.values()) + len(fatal)
    allv = sorted(x for v in lat.values() for x in v)
    cps = total / elapsed if results else 0.0
    clients_ok = sum(r["clients_ok"] for r in results)

    head = f"IMAP load {args.label}".rstrip()
    print(f"== {head}: {args.host}:{args.port}, {clients_ok}/{args.clients} clients in {procs} processes, "
          f"{elapsed:.1f}s, seed {args.seed_messages} messages/mailbox")
    print(f"commands={total} commands_per_s={cps:.1f} errors={n_err}")
    print(f"{'command':<16}{'count':>9}{'errors':>8}{'p50_ms':>10}{'p95_ms':>10}{'p99_ms':>10}")
    for name in list(weights) + sorted(k for k in set(lat) | set(errs) if k not in weights):
        v = sorted(lat.get(name, []))
        if not v and not errs.get(name):
            continue
        print(f"{name:<16}{len(v):>9}{errs.get(name, 0):>8}{pct(v, 50) * 1e3:>10.2f}{pct(v, 95) * 1e3:>10.2f}"
              f"{pct(v, 99) * 1e3:>10.2f}")
    print(f"{'all':<16}{total:>9}{n_err:>8}{pct(allv, 50) * 1e3:>10.2f}{pct(allv, 95) * 1e3:>10.2f}"
          f"{pct(allv, 99) * 1e3:>10.2f}")
    if first:
        print("first errors:")
        for e in first[:5]:
            print("  " + e)
    print(f"RESULT commands_per_s={cps:.1f} errors={n_err} p50_ms={pct(allv, 50) * 1e3:.2f} "
          f"p99_ms={pct(allv, 99) * 1e3:.2f}")
    return 0 if n_err == 0 and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
