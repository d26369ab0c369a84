"""Driver of list-expansion.sh: members, department, list, then one post and the timings."""
import argparse, json, os, smtplib, statistics, subprocess, threading, time, urllib.request

API = "http://127.0.0.1:18080"
TOKEN = "bench-token"


def call(method, path, body=None):
    req = urllib.request.Request(API + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
        return json.loads(data) if data else None


def sql(q):
    return subprocess.run(os.environ["PSQL"].split() + ["-c", q], check=True, capture_output=True, text=True).stdout.strip()


def send(to, subject):
    msg = f"From: sender@remote.example\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", 12525, timeout=60) as s:
        s.sendmail("sender@remote.example", [to], msg)


def inbox(address):
    return call("GET", f"/api/v1/accounts/{address}/mailbox")["quota"]["messages"]


def probe_latency(stop, out):
    """Ordinary mail to probe@: time from the 250 to the message in the mailbox, one at a time."""
    while not stop.is_set():
        before = inbox("probe@bench.test")
        t0 = time.monotonic()
        send("probe@bench.test", "probe")
        while inbox("probe@bench.test") <= before:
            time.sleep(0.02)
        out.append(time.monotonic() - t0)
        time.sleep(0.1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=10000)
    a = p.parse_args()
    # Members by the directory's CSV import, all in one department (created by the import).
    t = time.monotonic()
    csv = "address,department\n" + "".join(f"m{i:05d}@bench.test,Everyone\n" for i in range(a.n))
    req = urllib.request.Request(API + "/api/v1/domains/bench.test/import", method="POST", data=csv.encode(),
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "text/csv"})
    with urllib.request.urlopen(req, timeout=600) as r:
        report = json.loads(r.read())
    print(f"{report['created']} accounts imported in {time.monotonic() - t:.1f} s")
    dept = next(d["id"] for d in call("GET", "/api/v1/domains/bench.test/departments") if d["name"] == "Everyone")
    call("POST", "/api/v1/domains/bench.test/lists", {"name": "everyone", "postPolicy": "anyone"})
    call("POST", "/api/v1/domains/bench.test/lists/everyone/members", {"department": int(dept)})

    baseline = []
    stop = threading.Event()
    th = threading.Thread(target=probe_latency, args=(stop, baseline))
    th.start()
    time.sleep(float(os.environ.get("LIST_BASELINE_SECONDS", "15")))
    stop.set()
    th.join()

    during = []
    stop = threading.Event()
    t0 = time.monotonic()
    send("everyone@bench.test", "to all")
    th = threading.Thread(target=probe_latency, args=(stop, during))
    th.start()
    expanded = None
    while True:
        if expanded is None and sql("SELECT count(*) FROM mailing_list_expansion WHERE done") != "0":
            expanded = time.monotonic() - t0
        delivered = int(sql("SELECT count(*) FROM mailbox_message WHERE mailbox LIKE 'm%@bench.test'"))
        if delivered >= a.n:
            break
        time.sleep(0.2)
    all_delivered = time.monotonic() - t0
    stop.set()
    th.join()
    # And again once the expansion is over, so that "before" is not one lucky stretch.
    after = []
    stop = threading.Event()
    th = threading.Thread(target=probe_latency, args=(stop, after))
    th.start()
    time.sleep(float(os.environ.get("LIST_BASELINE_SECONDS", "15")) / 2)
    stop.set()
    th.join()
    grain_ms = sql("SELECT round(extract(epoch FROM updated_at - started_at) * 1000) FROM mailing_list_expansion")
    copies = sql("SELECT count(*) FROM blob WHERE domain = 'bench.test'")

    def q(xs, f):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(f * len(xs)))] * 1000

    print(f"members: {a.n}")
    seen = "n/a" if expanded is None else f"{expanded:.2f} s"
    print(f"expansion committed (all member events): seen {seen} after the 250 (grain's own span {grain_ms} ms)")
    print(f"every member has the post: {all_delivered:.2f} s")
    print(f"blobs in the domain afterwards: {copies} (the list copy is one blob, not one per member)")
    def line(name, xs):
        print(f"probe delivery latency {name}: n={len(xs)} p50 {statistics.median(xs) * 1000:.0f} ms, p90 {q(xs, 0.9):.0f} ms, "
              f"p99 {q(xs, 0.99):.0f} ms, max {max(xs) * 1000:.0f} ms")

    line("before", baseline)
    line("during", during)
    line("after ", after)
    both = baseline + after
    ratio50 = statistics.median(during) / statistics.median(both)
    ratio99 = q(during, 0.99) / q(both, 0.99)
    print(f"during / (before and after): p50 {ratio50:.2f}x, p99 {ratio99:.2f}x")

main()
