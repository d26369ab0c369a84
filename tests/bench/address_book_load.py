#!/usr/bin/env python3
"""Autocomplete latency of GET /api/v1/me/address-book?q= over HTTPS with keep-alive.

Each of --clients threads signs in as one of the given users and sends --requests queries drawn
from the mixes below; prints p50/p99 per mix and overall, in milliseconds, and the client's own CPU
per request. --auth basic sends HTTP Basic on every request (a CardDAV-style client);
--auth session logs in once (POST /api/v1/me/sessions) and sends the bearer token, as the webmail does.

Two load models. Closed loop (the default): each client sends its next query as soon as the previous
answer arrives, so the offered load is whatever the server can take and latency at saturation is mostly
waiting in line. Open loop (--rate R --duration S): queries are due at a fixed arrival rate, R a second,
spread over --clients connections; each request's latency is measured from the moment it was DUE, not
from when a free connection got round to sending it, so a queue behind a slow answer is counted rather
than hidden (a closed-loop client would simply have sent less).
"""
import argparse, base64, http.client, json, random, ssl, statistics, sys, threading, time, urllib.parse

# A woken client thread waits for the GIL up to the switch interval (5 ms by default) while another thread
# runs Python code; that wait would be counted as server latency. A browser's requests do not queue that way.
sys.setswitchinterval(0.0002)

# TLS sessions the load client opened (one per connection when keep-alive holds, as a browser's).
HANDSHAKES = [0]

MIXES = {
    # What people type: a surname, a surname and given name, pinyin initials, an address prefix, a Latin name.
    "surname (张)": ["张", "王", "李", "刘", "陈", "杨", "黄", "赵"],
    "full name prefix (张伟)": ["张伟", "王芳", "李娜", "刘敏", "陈静", "杨丽"],
    "pinyin initials (zw, zwm)": ["zw", "wf", "ln", "lm", "zwm", "wfj", "lnh", "cjq"],
    "address prefix (u123)": ["u1", "u12", "u123", "u4567", "u99"],
    "latin name (User 12)": ["user", "User 12", "user 345"],
    "substring of the given name (伟)": ["伟", "芳", "静明"],
}


class CountingHTTPSConnection(http.client.HTTPSConnection):
    """http.client reconnects by itself when the server closed the connection: count every TLS handshake."""
    def connect(self):
        HANDSHAKES[0] += 1
        super().connect()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def login(conn, user, password, mode):
    if mode == "basic":
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    conn.request("POST", "/api/v1/me/sessions", body=json.dumps({"address": user, "password": password}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        raise SystemExit(f"login: {r.status} {body[:200]!r}")
    return "Bearer " + json.loads(body)["token"]


def client(host, port, cafile, user, password, n, seed, out, mode="basic"):
    rnd = random.Random(seed)
    ctx = ssl.create_default_context(cafile=cafile)
    conn = CountingHTTPSConnection(host, port, context=ctx)
    auth = login(conn, user, password, mode)
    mixes = list(MIXES)
    for _ in range(n):
        mix = rnd.choice(mixes)
        q = rnd.choice(MIXES[mix])
        path = "/api/v1/me/address-book?limit=10&q=" + urllib.parse.quote(q)
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": auth})
        r = conn.getresponse()
        body = r.read()
        dt = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise SystemExit(f"{path}: {r.status} {body[:200]!r}")
        out.append((mix, user, dt))


def open_client(host, port, cafile, user, password, mode, start, rate, total, counter, lock, out):
    """One connection of the open-loop run: takes the next due request, waits for its due time, sends it."""
    ctx = ssl.create_default_context(cafile=cafile)
    conn = CountingHTTPSConnection(host, port, context=ctx)
    auth = login(conn, user, password, mode)
    mixes = list(MIXES)
    while True:
        with lock:
            i = counter[0]
            counter[0] += 1
        if i >= total:
            return
        rnd = random.Random(i)
        mix = rnd.choice(mixes)
        q = rnd.choice(MIXES[mix])
        path = "/api/v1/me/address-book?limit=10&q=" + urllib.parse.quote(q)
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        conn.request("GET", path, headers={"Authorization": auth})
        r = conn.getresponse()
        body = r.read()
        dt = (time.perf_counter() - due) * 1000
        if r.status != 200:
            raise SystemExit(f"{path}: {r.status} {body[:200]!r}")
        out.append((mix, user, dt, due - start))


def report(a, results, wall, cpu, head):
    all_ms = [r[2] for r in results]
    print(f"{head}: {len(all_ms)} requests, {len(all_ms) / wall:.0f} req/s; overall p50 {pct(all_ms, 50):.1f} ms, p99 {pct(all_ms, 99):.1f} ms, max {max(all_ms):.1f} ms")
    print(f"  client CPU {cpu * 1000 / len(all_ms):.2f} ms per request; {HANDSHAKES[0]} TLS handshakes ({len(all_ms)} requests, HTTP/1.1 keep-alive)")
    for user in a.user:
        u = [r[2] for r in results if r[1] == user]
        if u: print(f"  as {user:24} p50 {pct(u, 50):5.1f}  p99 {pct(u, 99):5.1f}  (n={len(u)})")
    for mix in MIXES:
        m = [r[2] for r in results if r[0] == mix]
        if m: print(f"  {mix:36} p50 {pct(m, 50):5.1f}  p99 {pct(m, 99):5.1f}  (n={len(m)})")
    if results and len(results[0]) > 3:
        # Open loop: the run in 5-second slices, to tell a stall of a few seconds from a run slow throughout.
        slices = {}
        for r in results: slices.setdefault(int(r[3] // 5), []).append(r[2])
        print("  by 5 s slice (p50/p99/max): " + "  ".join(f"{pct(v, 50):.1f}/{pct(v, 99):.1f}/{max(v):.0f}" for _, v in sorted(slices.items())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18443)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--user", action="append", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--auth", choices=["basic", "session"], default="basic")
    ap.add_argument("--rate", type=float, help="open loop: queries due per second (all connections together)")
    ap.add_argument("--duration", type=float, default=30, help="open loop: seconds of arrivals")
    a = ap.parse_args()
    print("queries drawn uniformly from: " + "; ".join(f"{m}: {' '.join(qs)}" for m, qs in MIXES.items()), file=sys.stderr)
    warm = []
    client("127.0.0.1", a.port, a.cafile, a.user[0], a.password, a.warmup, 0, warm, a.auth)
    results = []
    HANDSHAKES[0] = 0
    if a.rate:
        # Connections are opened and signed in before the clock starts; the first request is due 2 s later.
        total = int(a.rate * a.duration)
        counter, lock = [0], threading.Lock()
        start = time.perf_counter() + 2.0
        threads = [threading.Thread(target=open_client, args=("127.0.0.1", a.port, a.cafile, a.user[i % len(a.user)], a.password, a.auth,
                                                              start, a.rate, total, counter, lock, results)) for i in range(a.clients)]
        cpu0 = time.process_time()
        for t in threads: t.start()
        for t in threads: t.join()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        report(a, results, wall, cpu, f"auth {a.auth}, open loop at {a.rate:g} req/s over {a.clients} connections, {a.duration:g} s")
        return
    threads = [threading.Thread(target=client, args=("127.0.0.1", a.port, a.cafile, a.user[i % len(a.user)], a.password, a.requests, i + 1, results, a.auth))
               for i in range(a.clients)]
    t0, cpu0 = time.perf_counter(), time.process_time()
    for t in threads: t.start()
    for t in threads: t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    report(a, results, wall, cpu, f"auth {a.auth}, closed loop, {a.clients} clients")


if __name__ == "__main__":
    main()
