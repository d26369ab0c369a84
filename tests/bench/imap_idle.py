#!/usr/bin/env python3
"""N concurrent IMAP sessions in IDLE, from one asyncio process (Python 3 standard library only).

Every session connects, LOGINs as USER-FORMAT with n = (i % ACCOUNTS) + 1, SELECTs INBOX and sends
IDLE; at most BATCH sessions are between connect and the IDLE continuation at any time, so the
server is not flooded with logins. When all are idling it prints how many are, delivers one
message by SMTP to DELIVER-TO (default: the n = 1 user) and measures how long until each session
of that account got "* n EXISTS". After HOLD seconds it checks how many sessions are still open and,
given --pid, prints the server's VmRSS and VmHWM from /proc/PID/status.

Last line, machine-readable:
    RESULT sessions=<N> idle=<n> open=<n> notified=<n>/<m> notify_first_ms=<x> notify_last_ms=<x> rss_mib=<x> hwm_mib=<x>

Example (anchor):    imap_idle.py -n 200 --port 10143 --user-format 'u{n}@anchor.test' --password anchor --smtp-port 10025
Example (GrainMail): imap_idle.py -n 10000 --port 11143 --user-format 'u{n}@bench.test' --password secret123 \\
                         --smtp-port 12525 --pid PID
"""
import argparse
import asyncio
import os
import re
import resource
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap_load import Client, ImapError  # noqa: E402

EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$", re.I)


def proc_status_mib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mib_matching(pattern):
    """Proportional set size of every process whose command line contains PATTERN (shared pages counted once)."""
    total_kib = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if pattern not in cmd:
                continue
            with open(f"/proc/{entry}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    if hard != resource.RLIM_INFINITY and want > hard:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


class Session:
    __slots__ = ("i", "user", "client", "base_exists", "notified_at", "open", "task")

    def __init__(self, i, user):
        self.i, self.user = i, user
        self.client = None
        self.base_exists = 0
        self.notified_at = None
        self.open = False
        self.task = None


class State:
    def __init__(self, n):
        self.n = n
        self.idle = 0
        self.failed = 0
        self.errors = []
        self.all_settled = asyncio.Event()
        self.watch_event = asyncio.Event()
        self.watched = []

    def settle(self):
        if self.idle + self.failed >= self.n:
            self.all_settled.set()

    def error(self, text):
        self.failed += 1
        if len(self.errors) < 5:
            self.errors.append(text)
        self.settle()


async def start_session(args, s, state, sem):
    async with sem:
        c = Client(args.host, args.port)
        c.prefix = "I"
        try:
            await asyncio.wait_for(c.connect(), args.step_timeout)
            await asyncio.wait_for(c.login(s.user, args.password), args.step_timeout)
            await asyncio.wait_for(c.select(), args.step_timeout)
            s.base_exists = c.exists
            tag = c.next_tag()
            c.writer.write(tag + b" IDLE\r\n")
            await c.writer.drain()
            await asyncio.wait_for(c.wait_continuation(tag, []), args.step_timeout)
        except Exception as e:
            c.close()
            state.error(f"session {s.i} ({s.user}): {type(e).__name__}: {e}")
            return
    s.client, s.open = c, True
    state.idle += 1
    state.settle()
    await idle_reader(s, state)


async def idle_reader(s, state):
    """Reads what the server sends while idling; notes the first EXISTS above the SELECT count."""
    c = s.client
    try:
        while True:
            resp = await c.read_response()
            m = EXISTS.match(resp)
            if m and int(m.group(1)) > s.base_exists and s.notified_at is None:
                s.notified_at = time.monotonic()
                state.watch_event.set()
    except (ImapError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        s.open = False
    except asyncio.CancelledError:
        raise


def deliver(args, to):
    msg = (f"From: Idle Bench <bench@sender.test>\r\nTo: <{to}>\r\nSubject: bench idle wake-up\r\n"
           f"Message-ID: <idle.{os.getpid()}.{time.time_ns()}@sender.test>\r\n"
           f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n\r\n"
           "This message wakes the idling sessions.\r\n")
    with smtplib.SMTP(args.host, args.smtp_port, timeout=60) as smtp:
        smtp.sendmail("bench@sender.test", [to], msg.encode())


async def main_async(args):
    state = State(args.n)
    sessions = [Session(i, args.user_format.format(n=(i % args.accounts) + 1)) for i in range(args.n)]
    deliver_to = args.deliver_to or args.user_format.format(n=1)
    state.watched = [s for s in sessions if s.user.lower() == deliver_to.lower()]
    sem = asyncio.Semaphore(args.batch)
    t0 = time.monotonic()
    for s in sessions:
        s.task = asyncio.create_task(start_session(args, s, state, sem))

    last_report = t0
    while not state.all_settled.is_set():
        try:
            await asyncio.wait_for(state.all_settled.wait(), 5)
        except asyncio.TimeoutError:
            pass
        now = time.monotonic()
        if now - last_report >= 5 and not state.all_settled.is_set():
            print(f"  ... {state.idle} idle, {state.failed} failed after {now - t0:.0f}s", file=sys.stderr, flush=True)
            last_report = now
        if now - t0 > args.ramp_timeout:
            print(f"ramp-up timed out after {args.ramp_timeout:.0f}s", file=sys.stderr)
            break
    ramp = time.monotonic() - t0
    print(f"idle sessions: {state.idle}/{args.n} (failed {state.failed}) after {ramp:.1f}s "
          f"({state.idle / ramp if ramp else 0:.0f} logins/s)", flush=True)
    for e in state.errors:
        print("  error: " + e)

    watched_idle = [s for s in state.watched if s.open]
    first_ms = last_ms = accept_ms = -1.0
    notified = 0
    if watched_idle:
        state.watch_event.clear()
        t_send = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(None, deliver, args, deliver_to)
            accept_ms = (time.monotonic() - t_send) * 1e3
        except Exception as e:
            print(f"SMTP delivery to {deliver_to} on port {args.smtp_port} failed: {type(e).__name__}: {e}")
        if accept_ms >= 0:
            deadline = t_send + args.notify_timeout
            while True:
                state.watch_event.clear()  # no await between this and the check: no wake-up is lost
                remaining = deadline - time.monotonic()
                if remaining <= 0 or all(s.notified_at is not None or not s.open for s in watched_idle):
                    break
                try:
                    await asyncio.wait_for(state.watch_event.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            times = sorted((s.notified_at - t_send) * 1e3 for s in watched_idle if s.notified_at is not None)
            notified = len(times)
            if times:
                first_ms, last_ms = times[0], times[-1]
            print(f"delivery to {deliver_to}: SMTP accepted after {accept_ms:.1f} ms; "
                  f"{notified}/{len(watched_idle)} of its idling sessions got EXISTS, "
                  f"first after {first_ms:.1f} ms, last after {last_ms:.1f} ms (from the start of the SMTP send)",
                  flush=True)
    else:
        print(f"no idling session of {deliver_to}: delivery skipped")

    await asyncio.sleep(args.hold)
    still_open = sum(1 for s in sessions if s.open)
    rss = proc_status_mib(args.pid, "VmRSS") if args.pid else 0.0
    hwm = proc_status_mib(args.pid, "VmHWM") if args.pid else 0.0
    mem = f", server VmRSS {rss:.0f} MiB, VmHWM {hwm:.0f} MiB" if args.pid else ""
    pg = pss_mib_matching(args.pg_pattern) if args.pg_pattern else 0.0
    if args.pg_pattern:
        mem += f", PostgreSQL PSS {pg:.0f} MiB, in all {rss + pg:.0f} MiB"
    print(f"after {args.hold:.0f}s: {still_open}/{args.n} sessions still open{mem}")
    print(f"RESULT sessions={args.n} idle={state.idle} open={still_open} notified={notified}/{len(watched_idle)} "
          f"notify_first_ms={first_ms:.1f} notify_last_ms={last_ms:.1f} rss_mib={rss:.0f} hwm_mib={hwm:.0f} pg_pss_mib={pg:.0f}",
          flush=True)

    for s in sessions:
        s.task.cancel()
        if s.client is not None:
            s.client.close()
    await asyncio.gather(*(s.task for s in sessions), return_exceptions=True)
    ok = state.idle == args.n and still_open == args.n and watched_idle and notified == len(watched_idle)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=10000, help="concurrent sessions")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="IMAP port (plain TCP)")
    p.add_argument("--user-format", default="u{n}@bench.test", help="{n} = (i %% ACCOUNTS) + 1")
    p.add_argument("--accounts", type=int, default=100, help="sessions share this many accounts round-robin")
    p.add_argument("--password", required=True)
    p.add_argument("--smtp-port", type=int, required=True, help="SMTP port for the wake-up delivery (plain)")
    p.add_argument("--deliver-to", default="", help="recipient of the wake-up (default: USER-FORMAT with n=1)")
    p.add_argument("--batch", type=int, default=200, help="sessions logging in at the same time")
    p.add_argument("--pid", type=int, default=0, help="server pid for VmRSS/VmHWM")
    p.add_argument("--pg-pattern", default="", help="also sum the PSS of processes whose command line contains this (PostgreSQL)")
    p.add_argument("--hold", type=float, default=5, help="seconds to wait after the delivery before measuring")
    p.add_argument("--step-timeout", type=float, default=60, help="timeout of each connect/LOGIN/SELECT/IDLE step")
    p.add_argument("--ramp-timeout", type=float, default=900)
    p.add_argument("--notify-timeout", type=float, default=30)
    args = p.parse_args()
    limit = raise_nofile(args.n + 256)
    if limit < args.n + 64:
        print(f"warning: RLIMIT_NOFILE is {limit}, below the {args.n} sessions wanted", file=sys.stderr)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
