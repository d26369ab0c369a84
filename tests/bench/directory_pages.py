#!/usr/bin/env python3
"""Latency of the admin API's account list pages and prefix searches (sequential requests).

    directory_pages.py BASE_URL TOKEN DOMAIN [REQUESTS]
"""
import json
import random
import sys
import time
import urllib.parse
import urllib.request


def get(base: str, token: str, path: str) -> tuple[float, dict]:
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = json.load(r)
    return (time.perf_counter() - start) * 1000, body


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"{label}: n={len(ms)} p50={p(0.50):.1f} ms p95={p(0.95):.1f} ms p99={p(0.99):.1f} ms max={ms[-1]:.1f} ms")


def main() -> None:
    base, token, domain = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 400
    rnd = random.Random(15)
    pages, searches = [], []
    # Walk pages of 50 from the start and from random cursors.
    cursor = None
    for i in range(n):
        if i % 20 == 0:
            cursor = f"u{rnd.randrange(100000):06d}"
        path = f"/api/v1/domains/{domain}/accounts?limit=50" + (f"&cursor={cursor}" if cursor else "")
        ms, body = get(base, token, path)
        pages.append(ms)
        cursor = body.get("nextCursor")
    for i in range(n):
        q = rnd.choice([f"u0{rnd.randrange(10)}", f"u{rnd.randrange(1000):03d}", "王伟", "李", "user 00", f"user {rnd.randrange(100):02d}"])
        ms, _ = get(base, token, f"/api/v1/domains/{domain}/accounts?limit=20&q={urllib.parse.quote(q)}")
        searches.append(ms)
    report("list page (50)", pages)
    report("search (q prefix, 20)", searches)


if __name__ == "__main__":
    main()
