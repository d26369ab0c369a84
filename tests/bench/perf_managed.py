#!/usr/bin/env python3
"""CPU samples of a .NET node recorded by perf (trust-throughput.sh with TRUST_TRACE=DIR), with managed frames named.

The runtime maps JIT code twice (W^X), so perf sees managed frames as offsets into "memfd:doublemapper"; this script
turns them back into addresses with the mmap events and names them from the perf map the JIT wrote
(DOTNET_PerfMapEnabled=1), including the code's tier ([QuickJitted], [OptimizedTier1], ...).

  perf_managed.py DIR/on.perf.data DIR/on.perf.map [--per N] [--under REGEX] [--tiers] [--inclusive REGEX...]

Prints CPU ms per message (N messages; 999 Hz samples) by bucket (JIT, runtime, kernel, MimeKit, the trust checks,
Orleans, Npgsql, ...: the leaf-most frame that matches one), the leaf frames under REGEX, the samples by tier, or with
--inclusive the CPU under each REGEX (a matching frame anywhere on the stack; match a method's name with its "::" or its
state machine's "+<Name>", as its frames' argument lists name types too).
"""
import argparse
import bisect
import collections
import re
import subprocess

BUCKETS = [
    ("jit", r"libclrjit"),
    ("argon2 (IMAP logins)", r"Konscious"),
    ("regex", r"System\.Text\.RegularExpressions"),
    ("mimekit: text decoding", r"MimeKit\.TextPart::(get_Text|GetText)"),
    ("mimekit: parse", r"MimeKit\.MimeParser|MimeKit\.MimeMessage::Load"),
    ("mimekit: other", r"\] MimeKit\."),
    ("dnsclient", r"\] DnsClient\."),
    ("trust: results, headers", r"ForgedResults|AuthenticationResults|OriginStamp|MessageOrigin"),
    ("trust: scorer", r"SpamScorer"),
    ("trust: spf, dmarc, dkim, arc", r"GrainMail\.Trust\.(Spf|Dmarc|Dkim)"),
    ("trust: blocklists", r"GrainMail\.Trust\.Blocklists"),
    ("trust: dns", r"GrainMail\.Trust\.Dns|GrainMail\.Dns\."),
    ("trust: checker", r"GrainMail\.Trust\.Inbound"),
    ("trust: content", r"GrainMail\.Trust\.Content|ContentTrust"),
    ("trust: reputation", r"Reputation"),
    ("trust: InboundTrust", r"GrainMail\.Grains\.Trust\.InboundTrust"),
    ("npgsql", r"\[Npgsql\]"),
    ("orleans", r"\[Orleans"),
    ("storage", r"GrainMail\.Storage"),
    ("intake", r"IntakeCommit|MessageIntake"),
    ("smtp gateway", r"GrainMail\.Gateways\.Smtp"),
    ("imap gateway", r"GrainMail\.Gateways\.Imap"),
    ("runtime (GC, stubs, type loads)", r"libcoreclr"),
    ("kernel", r"kernel"),
]
# The JIT's tier in a managed frame's name (perf map), for --tiers and --timeline.
TIER = re.compile(r"\[(QuickJitted|Instrumented\w*|Optimized\w*|PreJIT)\]$")
MMAP = re.compile(r"\[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: r-xs /memfd:doublemapper")


def samples(data, mapfile, times=None):
    """The stacks (leaf first) of every sample; with a list for times, each sample's time in seconds goes into it too."""
    syms = []
    for line in open(mapfile, errors="replace"):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) == 3:
            try:
                syms.append((int(parts[0], 16), int(parts[1], 16), parts[2]))
            except ValueError:
                pass
    syms.sort()
    starts = [s[0] for s in syms]
    maps, out, cur, at = [], [], None, 0.0
    text = subprocess.run(["perf", "script", "-i", data, "--show-mmap-events", "-F", "comm,tid,time,ip,dso"],
                          capture_output=True, text=True).stdout
    for line in text.splitlines():
        m = MMAP.search(line)
        if m:
            maps.append((int(m.group(3), 16), int(m.group(2), 16), int(m.group(1), 16)))
            continue
        if not line.strip():
            if cur:
                out.append(cur)
                if times is not None:
                    times.append(at)
            cur = None
            continue
        if not line[0].isspace():
            cur = []
            m = re.search(r"(\d+\.\d+):", line)
            at = float(m.group(1)) if m else 0.0
            continue
        if cur is None:
            continue
        t = line.split(None, 1)
        ip, dso = int(t[0], 16), (t[1] if len(t) > 1 else "")
        name = None
        if "doublemapper" in dso:
            for pg, ln, st in maps:
                if pg <= ip < pg + ln:
                    va = st + ip - pg
                    i = bisect.bisect_right(starts, va) - 1
                    if i >= 0 and va < syms[i][0] + syms[i][1]:
                        name = syms[i][2]
                        break
            name = name or "[jit code, unnamed]"
        else:
            lib = dso.strip().strip("()").split("/")[-1]
            name = f"[{lib}]"
        cur.append(name)
    if cur:
        out.append(cur)
        if times is not None:
            times.append(at)
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("data")
    a.add_argument("map")
    a.add_argument("--per", type=int, default=3000, help="messages in the recorded pass")
    a.add_argument("--under", help="leaf frames of the samples whose stack has a frame matching this")
    a.add_argument("--tiers", action="store_true")
    a.add_argument("--timeline", type=float, metavar="SECONDS",
                   help="leaf samples per bucket of SECONDS from the first sample: JIT, runtime, tier-0 and instrumented "
                        "code, optimised code, kernel, the rest (when the JIT's work ends in a cold pass)")
    a.add_argument("--inclusive", nargs="+", metavar="REGEX",
                   help="for each REGEX, the CPU of the samples with a matching frame anywhere on the stack")
    o = a.parse_args()
    times = [] if o.timeline else None
    st = samples(o.data, o.map, times)
    print(f"{len(st)} samples, {len(st) / o.per:.3f} ms of node CPU per message")
    c = collections.Counter()
    if o.timeline:
        def kind(leaf):
            if leaf.startswith("[libclrjit"): return "jit"
            if leaf.startswith("[libcoreclr"): return "runtime"
            m = TIER.search(leaf)
            if m: return "optimised" if m.group(1).startswith(("Optimized", "PreJIT")) else "tier0/instr"
            return "kernel" if "kernel" in leaf else "rest"
        rows = collections.defaultdict(collections.Counter)
        t0 = min(times) if times else 0.0
        for t, s in zip(times, st):
            rows[int((t - t0) / o.timeline)][kind(s[0] if s else "")] += 1
        names = ["jit", "runtime", "tier0/instr", "optimised", "kernel", "rest"]
        print("from s  " + " ".join(f"{n:>11}" for n in names))
        for b in sorted(rows):
            print(f"{b * o.timeline:6.0f}  " + " ".join(f"{rows[b][n]:11d}" for n in names))
        return
    if o.inclusive:
        for rx in o.inclusive:
            r = re.compile(rx)
            print(f"{sum(1 for s in st if any(r.search(f) for f in s)) / o.per:8.4f}  {rx}")
        return
    if o.under:
        r = re.compile(o.under)
        for s in st:
            i = next((i for i, f in enumerate(s) if r.search(f)), None)
            if i is not None:
                c[next((f for f in s[:i + 1] if not f.startswith("[")), s[0])[:160]] += 1
    elif o.tiers:
        for s in st:
            m = TIER.search(s[0]) if s else None
            c[m.group(1) if m else (s[0][:60] if s else "?")] += 1
    else:
        cre = [(n, re.compile(p)) for n, p in BUCKETS]
        for s in st:
            c[next((n for f in s for n, r in cre if r.search(f)), "other")] += 1
    for k, v in c.most_common(40):
        print(f"{v / o.per:8.3f}  {k}")


if __name__ == "__main__":
    main()
