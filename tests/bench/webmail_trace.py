#!/usr/bin/env python3
"""Where a browser's time went in a Chromium trace (WebmailBench with BENCH_TRACE=file): the renderer
main threads' time by event (self time, nested events subtracted), the long tasks in order with their
largest parts, and the network requests, all in ms from the first event of the trace."""
import collections, json, sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    main_threads = {k for k, v in names.items() if v == "CrRendererMain"}
    timed = [e for e in events if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in main_threads]
    t0 = min(e["ts"] for e in events if e.get("ts", 0) > 0)
    end = max(e["ts"] + e["dur"] for e in timed) if timed else t0
    self_time = collections.Counter()
    tasks = []
    for key in main_threads:
        evs = sorted((e for e in timed if (e["pid"], e["tid"]) == key), key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                self_time[stack[-1]["name"]] -= e["dur"]
                stack[-1].setdefault("_kids", []).append(e)
            else:
                tasks.append(e)
            self_time[e["name"]] += e["dur"]
            stack.append(e)
    busy = sum(t["dur"] for t in tasks)
    print(f"trace span {(end - t0) / 1000:.0f} ms; renderer main threads busy {busy / 1000:.1f} ms")
    print("self time by event (ms):")
    for name, us in self_time.most_common(15):
        if us > 500:
            print(f"  {us / 1000:7.1f}  {name}")
    print("tasks over 3 ms (start ms, duration ms, largest parts):")

    def leaves(e, depth=0):
        out = []
        for k in e.get("_kids", []):
            detail = k.get("args", {}).get("data", {})
            label = k["name"] + (f" {detail.get('functionName') or detail.get('url', '')[-40:] or detail.get('type', '')}" if isinstance(detail, dict) else "")
            out.append((k["dur"], label.strip()))
            if depth < 2:
                out.extend(leaves(k, depth + 1))
        return out

    for t in sorted(tasks, key=lambda e: e["ts"]):
        if t["dur"] >= 3000:
            parts = ", ".join(f"{label} {d / 1000:.1f}" for d, label in sorted(leaves(t), reverse=True)[:5])
            print(f"  +{(t['ts'] - t0) / 1000:6.0f}  {t['dur'] / 1000:6.1f}  {parts}")
    # The page's own marks (webmail/src/timing.ts): where the click started the opening and where the body was painted.
    marks = sorted((e for e in events if str(e.get("name", "")).startswith("grainmail.") and e.get("ts", 0) > 0), key=lambda e: e["ts"])
    if marks:
        print("page marks (ms):")
        for e in marks:
            print(f"  +{(e['ts'] - t0) / 1000:6.0f}  {e['name']} ({e.get('ph')})")
    print("network (send → finish, ms):")
    sent = {}
    for e in sorted((e for e in events if e.get("name") in ("ResourceSendRequest", "ResourceFinish")), key=lambda e: e["ts"]):
        d = e.get("args", {}).get("data", {})
        rid = d.get("requestId")
        if e["name"] == "ResourceSendRequest":
            sent[rid] = (e["ts"], d.get("url", "")[-50:])
        elif rid in sent:
            ts, url = sent.pop(rid)
            print(f"  +{(ts - t0) / 1000:6.0f} → +{(e['ts'] - t0) / 1000:6.0f}  {url}")


if __name__ == "__main__":
    main(sys.argv[1])
