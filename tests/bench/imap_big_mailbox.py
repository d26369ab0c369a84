#!/usr/bin/env python3
"""One very large mailbox over IMAP (Python 3 standard library only).

Fills USER's INBOX to N messages (pipelined APPENDs with non-synchronising literals, LITERAL+),
then times, on one connection: SELECT INBOX, and REPEAT times each of
    UID FETCH 1:* (FLAGS)        UID SEARCH UNSEEN        FETCH 1:* (UID) [sequence numbers]
Prints median and best of each, and a last line
    RESULT messages=<n> select_ms=<x> uid_fetch_flags_ms=<median> uid_fetch_flags_best_ms=<x> search_unseen_ms=<x>

    imap_big_mailbox.py --port 11143 --user u1@bench.test --password secret123 -n 100000
"""
import argparse
import re
import socket
import statistics
import time

LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.tag = 0
        self.readline()  # greeting

    # The buffer is consumed by moving an offset, not by slicing: a 4 MB FETCH answer read line by
    # line must not cost the client quadratic copying (it would be measured as server time).
    def _fill(self):
        if self.pos > (1 << 20):
            del self.buf[: self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def readline(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos: i + 2])
                self.pos = i + 2
                return line
            self._fill()

    def readexact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        data = bytes(self.buf[self.pos: self.pos + n])
        self.pos += n
        return data

    def until_tagged(self, tag):
        """Reads to the tagged response; returns (untagged response count, tagged line)."""
        count = 0
        prefix = tag.encode() + b" "
        while True:
            line = self.readline()
            m = LITERAL.search(line)
            while m:
                self.readexact(int(m.group(1)))
                line = self.readline()
                m = LITERAL.search(line)
            if line.startswith(prefix):
                if not line[len(prefix):].startswith(b"OK"):
                    raise RuntimeError(line.decode(errors="replace").strip())
                return count, line
            count += 1

    def command(self, text):
        self.tag += 1
        tag = f"c{self.tag}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        return self.until_tagged(tag)


def message(i, user):
    return (f"From: bulk{i % 97}@elsewhere.test\r\nTo: {user}\r\nSubject: bulk message {i}\r\n"
            f"Message-ID: <bulk-{i}@elsewhere.test>\r\n\r\nbody of message {i}\r\n").encode()


def fill_maildir(args, have):
    import os
    cur = os.path.join(args.maildir, "cur")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(args.maildir, d), exist_ok=True)
    st = os.stat(os.path.dirname(args.maildir.rstrip("/")))
    for d in ("", "cur", "new", "tmp"):
        os.chown(os.path.join(args.maildir, d), st.st_uid, st.st_gid)
    now = int(time.time())
    for i in range(have, args.n):
        data = message(i, args.user)
        flags = "S" if i % 4 else ""
        path = os.path.join(cur, f"{now}.M{i}P1.bench,S={len(data)}:2,{flags}")
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, st.st_uid, st.st_gid)


def timed(conn, text):
    start = time.perf_counter()
    count, _ = conn.command(text)
    return (time.perf_counter() - start) * 1000, count


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("-n", type=int, default=100000, help="messages in the mailbox")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--label", default="")
    p.add_argument("--maildir", default="", help="fill by writing maildir files here (for the Dovecot anchor, whose "
                   "APPEND slows down as a maildir grows) instead of APPEND; owner taken from the parent directory")
    args = p.parse_args()

    c = Conn(args.host, args.port)
    c.command(f'LOGIN "{args.user}" "{args.password}"')
    have = 0
    c.tag += 1
    tag = f"c{c.tag}"
    c.sock.sendall(f"{tag} STATUS INBOX (MESSAGES)\r\n".encode())
    while True:
        line = c.readline()
        m = re.search(rb"MESSAGES (\d+)", line)
        if m:
            have = int(m.group(1))
        if line.startswith(tag.encode()):
            break

    if args.maildir and have < args.n:
        start = time.perf_counter()
        fill_maildir(args, have)
        print(f"wrote {args.n - have} maildir files in {time.perf_counter() - start:.1f}s", flush=True)
    elif have < args.n:
        start = time.perf_counter()
        batch = []
        last = None
        for i in range(have, args.n):
            msg = message(i, args.user)
            c.tag += 1
            last = f"c{c.tag}"
            flags = "(\\Seen) " if i % 4 else ""
            batch.append(f"{last} APPEND INBOX {flags}{{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
            if len(batch) >= 500 or i == args.n - 1:
                c.sock.sendall(b"".join(batch))
                batch = []
                # Keep at most one batch in flight so that replies do not pile up in the socket.
                c.until_tagged(last)
        print(f"filled {args.n - have} messages in {time.perf_counter() - start:.1f}s", flush=True)

    select_ms, _ = timed(c, "SELECT INBOX")
    if args.maildir:
        # The first SELECT after files appear builds Dovecot's index: report it, then time a warm one.
        print(f"first SELECT (index build) {select_ms:.0f} ms", flush=True)
        select_ms, _ = timed(c, "SELECT INBOX")
    fetch, search, seq = [], [], []
    for _ in range(args.repeat):
        ms, count = timed(c, "UID FETCH 1:* (FLAGS)")
        if count < args.n:
            raise RuntimeError(f"UID FETCH returned {count} of {args.n} messages")
        fetch.append(ms)
        search.append(timed(c, "UID SEARCH UNSEEN")[0])
        seq.append(timed(c, "FETCH 1:* (UID)")[0])
    c.command("LOGOUT")
    label = f"{args.label}: " if args.label else ""
    print(f"{label}{args.n} messages: SELECT {select_ms:.0f} ms; UID FETCH 1:* (FLAGS) median {statistics.median(fetch):.0f} ms "
          f"(best {min(fetch):.0f}); UID SEARCH UNSEEN median {statistics.median(search):.0f} ms; "
          f"FETCH 1:* (UID) median {statistics.median(seq):.0f} ms")
    print(f"RESULT messages={args.n} select_ms={select_ms:.0f} uid_fetch_flags_ms={statistics.median(fetch):.0f} "
          f"uid_fetch_flags_best_ms={min(fetch):.0f} search_unseen_ms={statistics.median(search):.0f}", flush=True)


if __name__ == "__main__":
    main()
