#!/usr/bin/env python3
"""Authenticated submission load (issue 17 item 9): PROCS processes, each one SMTP session on the
submission port as u<i>@DOMAIN (AUTH PLAIN), sending TOTAL/PROCS messages to u<i+1>@DOMAIN. The
figure is accepted messages per second: each 250 comes after the durable commit, so it includes the
governance work on the submit path (policy call, rule matching, index row, counters, sent record).
Prints one line: messages=.. seconds=.. accepted_per_s=.."""
import argparse
import multiprocessing
import smtplib
import time


def worker(args, i, count, out):
    sender = f"u{i}@{args.domain}"
    rcpt = f"u{(i % args.procs) + 1}@{args.domain}"
    body = ("Quarterly figures follow. " * 40 + "\r\n") * 4
    s = smtplib.SMTP(args.host, args.port, timeout=60)
    s.ehlo("bench.client")
    s.login(sender, args.password)
    for n in range(count):
        msg = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: report {i}-{n} on the quarter\r\n"
               f"Message-ID: <{i}.{n}.{time.time_ns()}@bench.client>\r\n\r\n{body}")
        s.sendmail(sender, [rcpt], msg)
    s.quit()
    out.put(count)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=12587)
    p.add_argument("--domain", default="bench.test")
    p.add_argument("--pass", dest="password", default="secret123")
    p.add_argument("--total", type=int, default=2000)
    p.add_argument("--procs", type=int, default=8)
    args = p.parse_args()
    per = args.total // args.procs
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(args, i, per, out)) for i in range(1, args.procs + 1)]
    start = time.monotonic()
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    elapsed = time.monotonic() - start
    sent = sum(out.get() for _ in procs if not out.empty())
    print(f"messages={sent} seconds={elapsed:.1f} accepted_per_s={sent / elapsed:.0f}")


if __name__ == "__main__":
    main()
