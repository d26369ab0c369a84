#!/usr/bin/env python3
"""Email/query + Email/get of 50 in one JMAP request, timed; prints count, p50, p99, max in ms."""
import argparse, base64, http.client, json, random, ssl, time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--requests", type=int, default=500)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx)
    auth = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()

    def call(body):
        conn.request("POST", "/jmap/api", json.dumps(body), {"Authorization": auth, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data[:300]
        return json.loads(data)

    conn.request("GET", "/.well-known/jmap", headers={"Authorization": auth})
    session = json.loads(conn.getresponse().read())
    acc = session["primaryAccounts"]["urn:ietf:params:jmap:mail"]
    boxes = call({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                  "methodCalls": [["Mailbox/get", {"accountId": acc}, "m"]]})
    inbox = next(m for m in boxes["methodResponses"][0][1]["list"] if m["role"] == "inbox")
    total = inbox["totalEmails"]
    rng = random.Random(18)
    times = []
    for i in range(a.requests + 20):
        position = 0 if i % 4 == 0 else rng.randrange(0, max(1, total - 50))
        body = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], "methodCalls": [
            ["Email/query", {"accountId": acc, "filter": {"inMailbox": inbox["id"]},
                             "sort": [{"property": "receivedAt", "isAscending": False}], "position": position, "limit": 50}, "q"],
            ["Email/get", {"accountId": acc, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                           "properties": ["threadId", "mailboxIds", "keywords", "size", "receivedAt", "from", "subject", "preview", "hasAttachment"]}, "g"]]}
        t = time.perf_counter()
        r = call(body)
        elapsed = (time.perf_counter() - t) * 1000
        assert len(r["methodResponses"][1][1]["list"]) == min(50, total - position), r["methodResponses"][1][1].keys()
        if i >= 20:  # the first requests load the view and fill caches
            times.append(elapsed)
    times.sort()
    pct = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"INBOX {total} messages: Email/query+Email/get(50) x{len(times)}: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
