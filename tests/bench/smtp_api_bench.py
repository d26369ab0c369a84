#!/usr/bin/env python3
"""SMTP delivery benchmark for GrainMail while it has no IMAP gateway.

Same load as ../../../shared/bench/smtp-delivery-bench.py (Postfix's smtp-source, TOTAL
messages of SIZE bytes over PROCS processes, process i sending to u<i>@DOMAIN), but arrivals
are counted through GrainMail's admin API (GET /api/v1/accounts/{a}/mailbox) instead of IMAP
STATUS. Prints: messages=.. accepted_per_s=.. delivered_per_s=..
"""
import argparse, json, subprocess, sys, time, urllib.request


def count(api, token, address):
    req = urllib.request.Request(f"{api}/api/v1/accounts/{address}/mailbox", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["quota"]["messages"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smtp", type=int, default=2525)
    p.add_argument("--api", default="http://127.0.0.1:8080")
    p.add_argument("--token", required=True)
    p.add_argument("--domain", default="bench.test")
    p.add_argument("--total", type=int, default=6000)
    p.add_argument("--procs", type=int, default=20)
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--timeout", type=float, default=600)
    a = p.parse_args()
    per = a.total // a.procs
    users = [f"u{i}@{a.domain}" for i in range(1, a.procs + 1)]
    before = {u: count(a.api, a.token, u) for u in users}
    start = time.monotonic()
    procs = [subprocess.Popen(["smtp-source", "-4", "-d", "-l", str(a.size), "-m", str(per), "-s", str(a.sessions),
                               "-f", "bench@sender.test", "-t", u, f"127.0.0.1:{a.smtp}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for u in users]
    failed = 0
    for pr in procs:
        _, err = pr.communicate()
        if pr.returncode != 0:
            failed += 1
            sys.stderr.write(err.decode(errors="replace"))
    accepted = time.monotonic()
    if failed:
        print(f"smtp-source failed in {failed} processes", file=sys.stderr)
        return 1
    pending = set(users)
    while pending:
        if time.monotonic() - start > a.timeout:
            print(f"timeout: {len(pending)} mailboxes incomplete", file=sys.stderr)
            return 1
        for u in list(pending):
            if count(a.api, a.token, u) - before[u] >= per:
                pending.discard(u)
        if pending:
            time.sleep(0.05)
    done = time.monotonic()
    n = per * a.procs
    print(f"messages={n} accepted_per_s={n / (accepted - start):.0f} delivered_per_s={n / (done - start):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
