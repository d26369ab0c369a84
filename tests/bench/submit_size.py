"""Times SMTP submissions by size: from the end of DATA to the reply, per message (the silo's commit: virus scan, checks,
store). Prints one line per size with every run's seconds and the replies that were not 250."""
import argparse
import smtplib
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=12587)
parser.add_argument("--user", default="sender@size.test")
parser.add_argument("--password", default="correct horse battery")
parser.add_argument("--to", default="rcpt@size.test")
parser.add_argument("--sizes", default="0.9,5,12,24", help="MiB, comma-separated")
parser.add_argument("--runs", type=int, default=3)
args = parser.parse_args()


def message(mib: float) -> bytes:
    # Base64-like lines of 76 characters: what an attachment looks like on the wire.
    line = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3" * 1)[:76] + b"\r\n"
    body = line * max(1, int(mib * 1024 * 1024 / len(line)))
    head = (f"From: {args.user}\r\nTo: {args.to}\r\nSubject: size {mib} MiB\r\nMIME-Version: 1.0\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
    return head + body


for mib in [float(s) for s in args.sizes.split(",")]:
    data = message(mib)
    times, bad = [], []
    for _ in range(args.runs):
        s = smtplib.SMTP("127.0.0.1", args.port, timeout=300)
        s.ehlo("bench.local")
        s.login(args.user, args.password)
        s.mail(args.user)
        s.rcpt(args.to)
        # smtplib's data() sends the whole message then waits: time the wait for the reply alone.
        s.putcmd("data")
        code, _ = s.getreply()
        assert code == 354, code
        payload = smtplib.quotedata(data.decode("ascii")).encode("ascii")
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        s.send(payload + b".\r\n")
        start = time.monotonic()
        code, text = s.getreply()
        times.append(time.monotonic() - start)
        if code != 250:
            bad.append(f"{code} {text.decode(errors='replace')}")
        s.quit()
    print(f"size_mib={mib} bytes={len(data)} reply_s=" + ",".join(f"{t:.2f}" for t in times)
          + (f" not_250={bad}" if bad else ""), flush=True)
