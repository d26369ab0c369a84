#!/usr/bin/env python3
"""Classifies every .txt message of each test set through POST /api/v1/spam/classify (one keep-alive
connection) and prints, per set, how much spam was caught or ham misfiled: caught means the classifier's
symbol alone reaches Junk under the default policy (BAYES_99, weight 6 >= junkAt 5); the BAYES_90 band
(weight 3, Junk only together with other evidence) is shown apart. Also the server-side classify time."""
import argparse
import http.client
import json
import os
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--set", action="append", required=True, help="NAME=spam|ham:DIR")
    ap.add_argument("--dump", help="write each message's verdict here (set, file, probability, clues, tokens, symbol; TSV)")
    a = ap.parse_args()
    dump = open(a.dump, "w") if a.dump else None
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    times = []
    print(f"{'set':<12} {'class':<5} {'n':>5} {'BAYES_99':>9} {'BAYES_90':>9} {'>= 90':>8} {'BAYES_00/05':>12}")
    for spec in a.set:
        name, rest = spec.split("=", 1)
        kind, directory = rest.split(":", 1)
        files = sorted(f for f in os.listdir(directory) if f.endswith(".txt"))
        counts = {}
        for f in files:
            with open(os.path.join(directory, f), "rb") as fh:
                body = fh.read()
            conn.request("POST", "/api/v1/spam/classify", body=body,
                         headers={"Authorization": "Bearer " + a.token, "Content-Type": "message/rfc822"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                print(f"{name}/{f}: HTTP {r.status} {data[:200]!r}", file=sys.stderr)
                counts["error"] = counts.get("error", 0) + 1
                continue
            c = json.loads(data)
            times.append(c["elapsedMicroseconds"])
            sym = c["symbol"] or "none"
            if dump:
                dump.write(f"{name}\t{f}\t{c['probability']!r}\t{c['clues']}\t{c['tokens']}\t{sym}\n")
            counts[sym] = counts.get(sym, 0) + 1
        n = len(files)
        b99, b90 = counts.get("BAYES_99", 0) + counts.get("GTUBE", 0), counts.get("BAYES_90", 0)
        hammy = counts.get("BAYES_00", 0) + counts.get("BAYES_05", 0)
        print(f"{name:<12} {kind:<5} {n:>5} {b99 / n:>9.2%} {b90 / n:>9.2%} {(b99 + b90) / n:>8.2%} {hammy / n:>12.2%}   {counts}")
    if dump:
        dump.close()
    times.sort()
    print(f"classify time per message (server side, tokenize + one query + combine): median {statistics.median(times) / 1000:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)] / 1000:.2f} ms, n={len(times)}")


if __name__ == "__main__":
    main()
