#!/usr/bin/env python3
"""N JMAP EventSource clients (RFC 8620 7.3) held over HTTPS from one asyncio process (standard library only).

Logs in ACCOUNTS users (POST /api/v1/me/sessions), opens N event streams spread over them
(client i is account (i % ACCOUNTS) + 1, with the bearer token in the Authorization header), at most
BATCH handshakes at a time. With all streams open it prints the server's VmRSS, then delivers
MESSAGES messages by SMTP, one at a time, each to the next account, and times from the SMTP server's
250 after DATA to each of that account's clients reading its "state" event. Then the server's
VmRSS/VmHWM again and the count of streams still open.

Last line, machine-readable:
    RESULT clients=<N> open=<n> samples=<n> p50_ms=<x> p99_ms=<x> max_ms=<x> rss_before_mib=<x> rss_held_mib=<x> rss_after_mib=<x> hwm_mib=<x>
"""
import argparse
import asyncio
import json
import smtplib
import ssl
import sys
import time
import urllib.request


def proc_status_mib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def login(port, address, password, ctx):
    body = json.dumps({"address": address, "password": password}).encode()
    req = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/me/sessions", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
        return json.load(r)["token"]


class Stream:
    def __init__(self, index, account):
        self.index = index
        self.account = account
        self.open = False
        self.events = asyncio.Queue()

    async def run(self, port, token, ctx, gate):
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
            writer.write((f"GET /jmap/eventsource?types=*&closeafter=no&ping=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"stream {self.index}: {status!r}")
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            self.open = True
        try:
            event = None
            while True:
                line = await reader.readline()
                if not line:
                    break
                line = line.strip()
                if line.startswith(b"event: "):
                    event = line[7:]
                elif line.startswith(b"data: ") and event == b"state":
                    self.events.put_nowait(time.perf_counter())
        finally:
            self.open = False
            writer.close()


def deliver(port, to):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("bench.client")
        msg = f"From: someone@elsewhere.example\r\nTo: {to}\r\nSubject: push bench\r\nMessage-ID: <{time.time_ns()}@elsewhere.example>\r\n\r\nhello\r\n"
        s.sendmail("someone@elsewhere.example", [to], msg)
        return time.perf_counter()


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else 0.0


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--https-port", type=int, default=18443)
    ap.add_argument("--smtp-port", type=int, default=12525)
    ap.add_argument("--user-format", default="u{n}@bench.test")
    ap.add_argument("--password", default="secret123")
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--pid", type=int, default=0)
    a = ap.parse_args()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    users = [a.user_format.format(n=k + 1) for k in range(a.accounts)]
    tokens = [await asyncio.to_thread(login, a.https_port, u, a.password, ctx) for u in users]
    rss_before = proc_status_mib(a.pid, "VmRSS")
    print(f"logged in {len(tokens)} accounts; server VmRSS {rss_before:.0f} MiB", flush=True)
    gate = asyncio.Semaphore(a.batch)
    streams = [Stream(i, i % a.accounts) for i in range(a.n)]
    tasks = [asyncio.create_task(s.run(a.https_port, tokens[s.account], ctx, gate)) for s in streams]
    t0 = time.perf_counter()
    while sum(s.open for s in streams) < a.n:
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
        if time.perf_counter() - t0 > 300:
            raise RuntimeError("streams did not open in 300 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    rss_held = proc_status_mib(a.pid, "VmRSS")
    print(f"{a.n} streams open in {time.perf_counter() - t0:.1f} s; server VmRSS {rss_held:.0f} MiB", flush=True)
    samples = []
    for m in range(a.messages):
        account = m % a.accounts
        mine = [s for s in streams if s.account == account]
        for s in mine:
            while not s.events.empty():
                s.events.get_nowait()
        sent = await asyncio.to_thread(deliver, a.smtp_port, users[account])
        for s in mine:
            try:
                got = await asyncio.wait_for(s.events.get(), 30)
                samples.append((got - sent) * 1000)
            except asyncio.TimeoutError:
                print(f"stream {s.index} got no state event for message {m}", file=sys.stderr)
        # The delivery may commit in more than one step; let its events pass before the next message.
        await asyncio.sleep(0.3)
    rss_after = proc_status_mib(a.pid, "VmRSS")
    hwm = proc_status_mib(a.pid, "VmHWM")
    still = sum(s.open for s in streams)
    print(f"RESULT clients={a.n} open={still} samples={len(samples)} p50_ms={percentile(samples, 50):.1f} p99_ms={percentile(samples, 99):.1f} "
          f"max_ms={max(samples, default=0):.1f} rss_before_mib={rss_before:.0f} rss_held_mib={rss_held:.0f} rss_after_mib={rss_after:.0f} hwm_mib={hwm:.0f}", flush=True)
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main())
