#!/usr/bin/env python3
"""IMAP stress mix with shared mailboxes and state tracking (Python 3 standard library only).

What a real stress client does, not a benchmark-friendly subset: MAILBOXES accounts, each shared
by CLIENTS_PER_MAILBOX connections (threads, spread over PROCS processes), every connection
running LOGIN and SELECT INBOX and then, until DURATION seconds have passed, one command at a
time chosen by weight:

  fetch_flags     UID FETCH of a 20-message UID range (UID FLAGS)
  fetch_envelope  UID FETCH of 5 messages (UID ENVELOPE)
  fetch_body      UID FETCH of one message (UID BODY.PEEK[])
  store           UID STORE +FLAGS/-FLAGS of \\Seen, \\Flagged or the connection's own keyword
  expunge         UID STORE +FLAGS.SILENT (\\Deleted) of 1-2 messages, then EXPUNGE
  append          APPEND of a ~3 KiB message to INBOX (the selected mailbox)
  noop            NOOP
  fetch_uids      FETCH 1:* (UID): the whole view, seq by seq
  list            LIST "" "*"
  status          STATUS of a second folder (MESSAGES UIDNEXT UNSEEN)
  select          SELECT INBOX again: a fresh view, compared with the one tracked
  relogin         LOGOUT, connect, LOGIN, SELECT INBOX

APPEND and EXPUNGE are weighted by the mailbox's size so that it stays near SEED messages.

Each connection keeps its view of INBOX from the untagged responses it is sent, in order
(EXISTS, EXPUNGE, FETCH) and counts a STATE ERROR whenever the server contradicts it:
  exists-decreased      EXISTS below the count the view holds (messages vanished without EXPUNGE)
  expunge-out-of-range  EXPUNGE of a sequence number the view does not have
  fetch-out-of-range    FETCH for a sequence number beyond the view
  uid-mismatch          FETCH says seq n has UID a, the view says b (a missed EXISTS/EXPUNGE)
  expunged-uid-returned FETCH returns a UID that was EXPUNGEd before
  own-keyword-lost      the connection's keyword (only it sets or clears it) missing from FLAGS
  own-keyword-stuck     the connection's keyword still in FLAGS after it cleared it
  append-not-seen       a UID the connection APPENDed (APPENDUID) not in its view after NOOP while
                        UID FETCH still finds it
  deleted-not-expunged  a message it flagged \\Deleted still in its view after its EXPUNGE
  fetch-all-incomplete  FETCH 1:* answered fewer or more sequence numbers than the view holds
  reselect-unknown-uid  a fresh SELECT shows a UID below the highest one the view knew that the
                        view never had (a message the session was never told of)
  reselect-expunged-uid a fresh SELECT shows a UID the session was told was expunged
  uidvalidity-changed   UIDVALIDITY differs on a later SELECT
The first examples of each are printed with the connection's last commands and what each was
answered. Recommendations (SHOULD) are counted apart, as notices:
  append-without-exists APPEND into the selected mailbox answered without an untagged EXISTS
                        (RFC 3501 6.3.11)
  fetch-body-empty      UID FETCH BODY.PEEK[] of a UID in the view answered without the body
                        (allowed when another session expunged it and this one was not told yet)

The IMAP client code is LeanIMAP by default (--client lean): the same conversation as the standard
library's imaplib (tests/bench/imap_mix_check.py compares the two), at less CPU per response line, so that
the load client takes less of the machine it shares with the server; --client imaplib uses imaplib itself,
as the runs before 2026-12-02 did. Both servers of a comparison must run with the same client code.

Prints per command its count and p50/p95/p99 latency, commands/s, state errors and notices,
then a machine-readable last line:
    RESULT commands_per_s=<x> commands=<n> state_errors=<n> errors=<n> p50_ms=<x> p99_ms=<x>

Examples:
    imap_mix.py --port 10143 --user-format 'm{n}@anchor.test' --password anchor
    imap_mix.py --port 11993 --tls --user-format 'm{n}@bench.test' --password secret123
"""
import argparse
import collections
import imaplib
import multiprocessing as mp
import os
import random
import re
import socket
import ssl
import sys
import threading
import time

WEIGHTS = {
    "fetch_flags": 20,
    "fetch_envelope": 12,
    "fetch_body": 12,
    "store": 15,
    "expunge": 5,
    "append": 5,
    "noop": 10,
    "fetch_uids": 4,
    "list": 4,
    "status": 5,
    "select": 3,
    "relogin": 1,
}
OTHER_FOLDER = "bench-archive"
FETCH_START = re.compile(rb"^(\d+) \(")
UID_ITEM = re.compile(rb"[( ]UID (\d+)")
FLAGS_ITEM = re.compile(rb"[( ]FLAGS \(([^)]*)\)")
APPENDUID = re.compile(rb"^(\d+) (\d+)")
UIDVALIDITY = re.compile(rb"^(\d+)")


_tls_context = None


def tls_context():
    """One client TLS context per process, as a mail client keeps one: the certificate is not checked, so no
    trust store is loaded. (ssl.create_default_context() per connection loaded the system's CA bundle at every
    connect and LOGOUT+LOGIN, 21 ms of CPU each on the 2-core machine: with about 485 connects in a 30 s run, a
    third of the load client's CPU over TLS, a cost the plaintext runs never had.)"""
    global _tls_context
    if _tls_context is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _tls_context = ctx
    return _tls_context


class StateError(Exception):
    pass


class TrackingIMAP(object):
    """imaplib with the untagged responses of each command kept in the order they came."""

    @staticmethod
    def wrap(base):
        class Tracking(base):
            def __init__(self, *a, **kw):
                self.events = []
                super().__init__(*a, **kw)

            def _append_untagged(self, typ, dat):
                self.events.append((typ.upper(), dat))
                super()._append_untagged(typ, dat)

            def take_events(self):
                ev, self.events = self.events, []
                # imaplib also files them by type; nothing reads those, so they are let go.
                self.untagged_responses = {}
                return ev

        return Tracking


PlainIMAP = TrackingIMAP.wrap(imaplib.IMAP4)
TlsIMAP = TrackingIMAP.wrap(imaplib.IMAP4_SSL)


class LeanIMAP:
    """The same client conversation as imaplib's (same commands, bytes and writes, the same
    (type, data) untagged events in order, BAD raised as imaplib.IMAP4.error, a lost connection or
    BYE as imaplib.IMAP4.abort), minus what costs imaplib CPU without being IMAP: a readline and up
    to four regular-expression matches per response line, and a repr() of every line for its debug
    log. Responses are read in large blocks and split on CRLF; literals are taken by their length.
    """

    error = imaplib.IMAP4.error
    abort = imaplib.IMAP4.abort

    def __init__(self, host, port, timeout=None, ssl_context=None):
        sock = socket.create_connection((host, port), timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.events = []
        self.prefix = ("%s%d" % ("".join(random.choice("ABCDEFGHIJKLMNOP") for _ in range(4)), os.getpid() % 100)).encode()
        self.n = 0
        greeting = self._line()
        if not greeting.startswith(b"* OK") and not greeting.startswith(b"* PREAUTH"):
            raise self.error(greeting)
        self._untagged(greeting)
        # imaplib asks for the capabilities after the greeting, always.
        self._simple(b"CAPABILITY")

    # ---- reading -------------------------------------------------------------------------

    def _fill(self):
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        try:
            chunk = self.sock.recv(65536)
        except OSError as e:
            raise self.abort("socket error: %s" % e)
        if not chunk:
            raise self.abort("socket error: EOF")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _read(self, size):
        while len(self.buf) - self.pos < size:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + size])
        self.pos += size
        return data

    def _untagged(self, line):
        """One untagged response (literals read as they come), filed as imaplib files it."""
        rest = line[2:]
        sp = rest.find(b" ")
        word = rest if sp < 0 else rest[:sp]
        if word.isdigit():
            # "* n TYPE data": imaplib's data is "n data".
            sp2 = rest.find(b" ", sp + 1)
            typ = (rest[sp + 1:] if sp2 < 0 else rest[sp + 1:sp2]).decode().upper()
            dat = word if sp2 < 0 else word + b" " + rest[sp2 + 1:]
        else:
            typ = word.decode().upper()
            dat = b"" if sp < 0 else rest[sp + 1:]
        while dat.endswith(b"}") and b"{" in dat:
            size = dat[dat.rindex(b"{") + 1:-1]
            if not size.isdigit():
                break
            self.events.append((typ, (dat, self._read(int(size)))))
            dat = self._line()
        self.events.append((typ, dat))
        if typ in ("OK", "NO", "BAD", "BYE"):
            self._code(dat)
        return typ

    def _code(self, dat):
        """A bracketed response code, filed as an untagged response of its own (as imaplib does)."""
        if dat.startswith(b"[") and b"]" in dat:
            inner = dat[1:dat.rindex(b"]")]
            sp = inner.find(b" ")
            self.events.append(((inner if sp < 0 else inner[:sp]).decode().upper(), None if sp < 0 else inner[sp + 1:]))

    def _response(self, tag, literal=None):
        """Reads up to the tagged response of TAG; sends LITERAL (then CRLF, two writes as imaplib) at the '+'."""
        bye = False
        while True:
            line = self._line()
            if line.startswith(b"* "):
                if self._untagged(line) == "BYE":
                    bye = True
            elif line.startswith(b"+"):
                if literal is None:
                    raise self.abort("unexpected continuation: %r" % line)
                self._send(literal)
                self._send(b"\r\n")
                literal = None
            elif line.startswith(tag + b" "):
                rest = line[len(tag) + 1:]
                sp = rest.find(b" ")
                typ = (rest if sp < 0 else rest[:sp]).decode().upper()
                dat = b"" if sp < 0 else rest[sp + 1:]
                self._code(dat)
                return typ, [dat], bye
            else:
                raise self.abort("unexpected response: %r" % line)

    # ---- commands ------------------------------------------------------------------------

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self.abort("socket error: %s" % e)

    def _simple(self, *words, literal=None, expect_bye=False):
        self.n += 1
        tag = self.prefix + str(self.n).encode()
        parts = [tag]
        for w in words:
            if w is not None:
                parts.append(w if isinstance(w, bytes) else w.encode())
        if literal is not None:
            parts.append(b"{%d}" % len(literal))
        self._send(b" ".join(parts) + b"\r\n")
        typ, data, bye = self._response(tag, literal)
        if bye and not expect_bye:
            raise self.abort("server said BYE")
        if typ == "BAD":
            raise self.error("%s command error: %s %s" % (words[0], typ, data))
        return typ, data

    def take_events(self):
        ev, self.events = self.events, []
        return ev

    def login(self, user, password):
        typ, dat = self._simple(b"LOGIN", user, '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if typ != "OK":
            raise self.error(dat[-1])
        return typ, dat

    def select(self, mailbox="INBOX"):
        return self._simple(b"SELECT", mailbox)

    def fetch(self, message_set, parts):
        return self._simple(b"FETCH", message_set, parts)

    def uid(self, command, *args):
        return self._simple(b"UID", command, *args)

    def expunge(self):
        return self._simple(b"EXPUNGE")

    def noop(self):
        return self._simple(b"NOOP")

    def list(self, directory, pattern):
        return self._simple(b"LIST", directory, pattern)

    def status(self, mailbox, names):
        return self._simple(b"STATUS", mailbox, names)

    def create(self, mailbox):
        return self._simple(b"CREATE", mailbox)

    def append(self, mailbox, flags, date_time, message):
        return self._simple(b"APPEND", mailbox or "INBOX", flags, literal=message)

    def logout(self):
        try:
            typ, dat = self._simple(b"LOGOUT", expect_bye=True)
        except (self.error, OSError):
            typ, dat = "NO", [b"connection lost"]
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
        return ("BYE", [b""]) if any(t == "BYE" for t, _ in self.events) else (typ, dat)


def fetch_responses(events):
    """Joins imaplib's pieces of each untagged FETCH: (seq, text outside literals, literal sizes)."""
    out = []
    for typ, dat in events:
        if typ != "FETCH":
            continue
        text, lit = (dat[0], dat[1]) if isinstance(dat, tuple) else (dat, None)
        text = text or b""
        m = FETCH_START.match(text)
        if m:
            out.append([int(m.group(1)), text, []])
        elif out:
            out[-1][1] += text
        if lit is not None and out:
            out[-1][2].append(len(lit))
    return out


def message(client, n):
    body = ("Line %d of a benchmark message, long enough to look like mail.\r\n" % n) * 40
    return (
        "From: Bench Client %d <bench%d@example.org>\r\n"
        "To: user@example.org\r\n"
        "Subject: bench %d %08x\r\n"
        "Message-ID: <%d.%d.%08x@bench.example.org>\r\n"
        "Date: Tue, 01 Dec 2026 06:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n" % (client, client, n, random.getrandbits(32), client, n, random.getrandbits(32))
        + body
    ).encode()


class Conn:
    """One stress connection: its commands, its view of INBOX and its findings."""

    def __init__(self, opts, cid, mailbox, slot, stats):
        self.o, self.cid, self.mailbox, self.slot, self.stats = opts, cid, mailbox, slot, stats
        self.user = opts.user_format.format(n=mailbox)
        self.keyword = "$Bench%d" % slot
        self.rng = random.Random(opts.seed * 1000 + cid)
        self.imap = None
        self.uids = []          # seq-1 -> UID (None until learnt)
        self.expunged = set()   # UIDs this session was told are gone
        self.mine = {}          # UID -> whether this connection's keyword is set
        self.pending_appends = set()
        self.unknown_expunges = 0
        self.uidvalidity = None
        self.history = collections.deque(maxlen=8)
        self.appended = 0
        self.storing = None     # UID whose keyword this connection is changing in the running command

    # ---- bookkeeping -----------------------------------------------------------------

    def state_error(self, kind, detail):
        s = self.stats
        s["state_errors"][kind] += 1
        if len(s["examples"][kind]) < 3:
            s["examples"][kind].append(
                "connection %d (mailbox %s, keyword %s): %s\n      last commands:\n%s"
                % (self.cid, self.user, self.keyword, detail, "\n".join("        " + describe(*h) for h in self.history)))

    def notice(self, kind):
        self.stats["notices"][kind] += 1

    def run(self, name, command, fn, apply=True):
        """Runs one IMAP command, timing it and (unless told not to) applying what the server said to the view."""
        t = time.perf_counter()
        try:
            typ, data = fn()
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:  # tagged BAD
            typ, data = "BAD", [str(e).encode()]
        ms = (time.perf_counter() - t) * 1000
        self.stats["count"][name] += 1
        self.stats["lat"][name].append(ms)
        events = self.imap.take_events()
        # Kept as it came and described only when an example is printed: summarizing every answer (two
        # hundred FETCH lines for FETCH 1:*) cost the client more CPU than reading it.
        self.history.append((command, typ, data, events))
        if typ != "OK" and not (name == "logout" and typ == "BYE"):
            self.stats["errors"][name] += 1
            if len(self.stats["error_examples"]) < 5:
                self.stats["error_examples"].append("connection %d: %s -> %s %s" % (self.cid, command, typ, summarize_tagged(data)))
        if apply:
            self.apply(events)
        return typ, data, events

    def apply(self, events):
        fetched = fetch_responses(events)
        fi = 0
        for typ, dat in events:
            if typ == "EXISTS":
                n = int(dat)
                if n < len(self.uids):
                    self.state_error("exists-decreased", "EXISTS %d while the view holds %d" % (n, len(self.uids)))
                    del self.uids[n:]
                else:
                    self.uids.extend([None] * (n - len(self.uids)))
            elif typ == "EXPUNGE":
                n = int(dat)
                if not 1 <= n <= len(self.uids):
                    self.state_error("expunge-out-of-range", "EXPUNGE %d with %d in the view" % (n, len(self.uids)))
                    continue
                uid = self.uids.pop(n - 1)
                if uid is None:
                    self.unknown_expunges += 1
                else:
                    self.expunged.add(uid)
                    self.mine.pop(uid, None)
            elif typ == "FETCH" and isinstance(dat, (bytes, tuple)):
                text = dat[0] if isinstance(dat, tuple) else dat
                if not FETCH_START.match(text or b""):
                    continue
                seq, joined, _ = fetched[fi]
                fi += 1
                self.apply_fetch(seq, joined)

    def apply_fetch(self, seq, text):
        if not 1 <= seq <= len(self.uids):
            self.state_error("fetch-out-of-range", "FETCH for seq %d with %d in the view" % (seq, len(self.uids)))
            return
        m = UID_ITEM.search(text)
        if m:
            uid = int(m.group(1))
            known = self.uids[seq - 1]
            if uid in self.expunged:
                self.state_error("expunged-uid-returned", "FETCH seq %d UID %d, a UID expunged before" % (seq, uid))
            if known is None:
                self.uids[seq - 1] = uid
            elif known != uid:
                self.state_error("uid-mismatch", "FETCH seq %d UID %d, the view has UID %d there" % (seq, uid, known))
                self.uids[seq - 1] = uid
        else:
            uid = self.uids[seq - 1]
        # During this connection's own STORE, a FETCH of the flags from before it may come first.
        if uid is not None and uid in self.mine and uid != self.storing:
            self.apply_fetch_flags(uid, text)

    def apply_fetch_flags(self, uid, text):
        f = FLAGS_ITEM.search(text)
        if f:
            has = self.keyword.lower().encode() in f.group(1).lower().split()
            if self.mine[uid] and not has:
                self.state_error("own-keyword-lost", "UID %d FLAGS (%s) without %s, set by this connection"
                                 % (uid, f.group(1).decode(errors="replace"), self.keyword))
            elif not self.mine[uid] and has:
                self.state_error("own-keyword-stuck", "UID %d FLAGS (%s) still with %s, cleared by this connection"
                                 % (uid, f.group(1).decode(errors="replace"), self.keyword))

    def learn_uids(self):
        """Asks for the UIDs of messages announced by EXISTS (as a client does before showing them)."""
        for _ in range(3):
            if None not in self.uids:
                return
            first = self.uids.index(None) + 1
            self.run("fetch_flags", "FETCH %d:* (UID FLAGS)" % first,
                     lambda: self.imap.fetch("%d:*" % first, "(UID FLAGS)"))

    def known(self):
        return [u for u in self.uids if u is not None]

    # ---- session ---------------------------------------------------------------------

    def connect(self):
        o = self.o
        ctx = tls_context() if o.tls else None
        if o.client == "lean":
            self.imap = LeanIMAP(o.host, o.port, timeout=o.timeout, ssl_context=ctx)
        elif o.tls:
            self.imap = TlsIMAP(o.host, o.port, ssl_context=ctx, timeout=o.timeout)
        else:
            self.imap = PlainIMAP(o.host, o.port, timeout=o.timeout)
        self.imap.take_events()
        typ, _, _ = self.run("login", "LOGIN", lambda: self.imap.login(self.user, o.password))
        if typ != "OK":
            raise RuntimeError("login failed for " + self.user)
        self.select(first=True)

    def select(self, first=False):
        before, expunged, max_known = list(self.uids), set(self.expunged), max(self.known(), default=0)
        # A SELECT starts a new view: its EXISTS is not read onto the old one.
        typ, _, events = self.run("select", "SELECT INBOX", lambda: self.imap.select("INBOX"), apply=False)
        if typ != "OK":
            raise RuntimeError("SELECT INBOX failed for " + self.user)
        self.uids = []
        uv = None
        for t, d in events:
            if t == "EXISTS":
                self.uids = [None] * int(d)
            elif t == "UIDVALIDITY":
                uv = int(UIDVALIDITY.match(d).group(1))
        if uv is not None:
            if self.uidvalidity is not None and uv != self.uidvalidity:
                self.state_error("uidvalidity-changed", "UIDVALIDITY %d, was %d" % (uv, self.uidvalidity))
            self.uidvalidity = uv
        self.unknown_expunges = 0
        if self.uids:
            self.run("fetch_uids", "FETCH 1:* (UID FLAGS)", lambda: self.imap.fetch("1:*", "(UID FLAGS)"))
        self.learn_uids()
        if first:
            return
        old = set(u for u in before if u is not None)
        for uid in self.known():
            if uid in expunged:
                self.state_error("reselect-expunged-uid", "fresh SELECT shows UID %d, expunged earlier in this session" % uid)
            elif uid <= max_known and uid not in old:
                self.state_error("reselect-unknown-uid",
                                 "fresh SELECT shows UID %d (below UID %d the view knew) that the session was never told of"
                                 % (uid, max_known))

    def close(self):
        if self.imap is None:
            return
        try:
            self.imap.logout()
        except Exception:
            pass
        self.imap = None

    # ---- the mix ---------------------------------------------------------------------

    def pick(self, seed_count):
        w = dict(WEIGHTS)
        n = len(self.known())
        # Keep each mailbox near its seed size: more APPEND when small, more EXPUNGE when large.
        w["append"] = WEIGHTS["append"] * (3 if n < seed_count * 0.8 else 1 if n < seed_count * 1.2 else 0.2)
        w["expunge"] = WEIGHTS["expunge"] * (3 if n > seed_count * 1.2 else 1 if n > seed_count * 0.8 else 0.2)
        if n == 0:
            for k in ("fetch_flags", "fetch_envelope", "fetch_body", "store", "expunge", "fetch_uids"):
                w[k] = 0
        names = list(w)
        return self.rng.choices(names, weights=[w[k] for k in names])[0]

    def step(self, name):
        imap, rng = self.imap, self.rng
        known = self.known()
        if name == "fetch_flags":
            i = rng.randrange(len(known))
            a, b = known[i], known[min(len(known) - 1, i + 19)]
            self.run(name, "UID FETCH %d:%d (UID FLAGS)" % (a, b), lambda: imap.uid("FETCH", "%d:%d" % (a, b), "(UID FLAGS)"))
        elif name == "fetch_envelope":
            pick = ",".join(str(u) for u in rng.sample(known, min(5, len(known))))
            self.run(name, "UID FETCH %s (UID ENVELOPE)" % pick, lambda: imap.uid("FETCH", pick, "(UID ENVELOPE)"))
        elif name == "fetch_body":
            uid = rng.choice(known)
            _, _, events = self.run(name, "UID FETCH %d (UID BODY.PEEK[])" % uid,
                                    lambda: imap.uid("FETCH", str(uid), "(UID BODY.PEEK[])"))
            if not any(lits for _, _, lits in fetch_responses(events)) and uid in self.uids:
                self.notice("fetch-body-empty")
        elif name == "store":
            uid = rng.choice(known)
            flag = rng.choice(["\\Seen", "\\Flagged", self.keyword, self.keyword])
            op = rng.choice(["+FLAGS", "-FLAGS"])
            if flag == self.keyword:
                self.mine[uid] = op == "+FLAGS"
                self.storing = uid
            try:
                _, _, events = self.run(name, "UID STORE %d %s (%s)" % (uid, op, flag),
                                        lambda: imap.uid("STORE", str(uid), op, "(%s)" % flag))
            finally:
                self.storing = None
            if flag == self.keyword and uid in self.mine:
                # The last FETCH of the message in the answer is its state after the STORE.
                last = [t for _, t, _ in fetch_responses(events) if UID_ITEM.search(t) and int(UID_ITEM.search(t).group(1)) == uid]
                if last:
                    self.apply_fetch_flags(uid, last[-1])
        elif name == "expunge":
            doomed = rng.sample(known, min(len(known), rng.choice([1, 2])))
            ids = ",".join(str(u) for u in doomed)
            self.run("store", "UID STORE %s +FLAGS.SILENT (\\Deleted)" % ids,
                     lambda: imap.uid("STORE", ids, "+FLAGS.SILENT", "(\\Deleted)"))
            self.run(name, "EXPUNGE", lambda: imap.expunge())
            left = [u for u in doomed if u in self.uids]
            if left:
                self.state_error("deleted-not-expunged", "UIDs %s flagged \\Deleted by this connection still in its view after EXPUNGE" % left)
        elif name == "append":
            self.appended += 1
            raw = message(self.cid, self.appended)
            flags = rng.choice([None, "(\\Seen)"])
            _, _, events = self.run(name, "APPEND INBOX %s {%d}" % (flags or "", len(raw)),
                                    lambda: imap.append("INBOX", flags, None, raw))
            for t, d in events:
                if t == "APPENDUID":
                    m = APPENDUID.match(d)
                    if m:
                        self.pending_appends.add(int(m.group(2)))
            if not any(t == "EXISTS" for t, _ in events):
                self.notice("append-without-exists")
        elif name == "noop":
            self.run(name, "NOOP", lambda: imap.noop())
            self.learn_uids()
            missing = [u for u in self.pending_appends if u not in set(self.uids) and u not in self.expunged]
            self.pending_appends.clear()
            for uid in missing:
                # Another session may have expunged it before this one was told of it: legal, and then
                # UID FETCH finds nothing. If the server still has it, NOOP should have announced it.
                _, _, events = self.run("fetch_flags", "UID FETCH %d (UID)" % uid, lambda: imap.uid("FETCH", str(uid), "(UID)"))
                if any(UID_ITEM.search(t) and int(UID_ITEM.search(t).group(1)) == uid for _, t, _ in fetch_responses(events)):
                    self.state_error("append-not-seen", "APPENDUID %d exists (UID FETCH returns it) but NOOP did not announce it"
                                     " (view: %d messages, highest UID %s)" % (uid, len(self.uids), max(self.known(), default=None)))
        elif name == "fetch_uids":
            before = len(self.uids)
            _, _, events = self.run(name, "FETCH 1:* (UID)", lambda: imap.fetch("1:*", "(UID)"))
            # Unsolicited FETCH FLAGS (another session's STORE) may come along; the answers are those with UID.
            seqs = sorted(set(seq for seq, text, _ in fetch_responses(events) if UID_ITEM.search(text)))
            # An EXISTS may come before or after the FETCH answers, so "*" is the count before or after it.
            if seqs != list(range(1, len(seqs) + 1)) or not before <= len(seqs) <= len(self.uids):
                self.state_error("fetch-all-incomplete", "FETCH 1:* answered %d sequence numbers (%s..%s), the view holds %d (%d before)"
                                 % (len(seqs), seqs[0] if seqs else "-", seqs[-1] if seqs else "-", len(self.uids), before))
        elif name == "list":
            self.run(name, 'LIST "" "*"', lambda: imap.list('""', '"*"'))
        elif name == "status":
            self.run(name, "STATUS %s (MESSAGES UIDNEXT UNSEEN)" % OTHER_FOLDER,
                     lambda: imap.status(OTHER_FOLDER, "(MESSAGES UIDNEXT UNSEEN)"))
        elif name == "select":
            self.select()
        elif name == "relogin":
            self.run("logout", "LOGOUT", lambda: imap.logout())
            self.imap = None
            self.pending_appends.clear()
            self.connect()
        self.learn_uids()


def describe(command, typ, data, events):
    return "%s -> %s %s | %s" % (command, typ, summarize_tagged(data), summarize(events))


def summarize_tagged(data):
    if not data:
        return ""
    d = data[0] if isinstance(data, list) else data
    if isinstance(d, tuple):
        d = d[0]
    if isinstance(d, bytes):
        d = d[:60].decode(errors="replace")
    return str(d)[:60]


def summarize(events):
    parts = []
    for typ, dat in events:
        if typ in ("EXISTS", "EXPUNGE", "RECENT"):
            parts.append("* %s %s" % (dat.decode(), typ))
        elif typ == "FETCH":
            text = dat[0] if isinstance(dat, tuple) else dat
            m = FETCH_START.match(text or b"")
            if m:
                u = UID_ITEM.search(text)
                f = FLAGS_ITEM.search(text)
                parts.append("* %s FETCH%s%s" % (m.group(1).decode(), " UID " + u.group(1).decode() if u else "",
                                                  " FLAGS (" + f.group(1).decode(errors="replace") + ")" if f else ""))
        elif typ in ("APPENDUID", "UIDVALIDITY", "UIDNEXT"):
            parts.append("[%s %s]" % (typ, dat.decode(errors="replace")))
    if len(parts) > 8:
        parts = parts[:4] + ["... %d more" % (len(parts) - 8)] + parts[-4:]
    return ", ".join(parts) or "-"


def new_stats():
    return {
        "count": collections.Counter(),
        "errors": collections.Counter(),
        "lat": collections.defaultdict(list),
        "state_errors": collections.Counter(),
        "notices": collections.Counter(),
        "examples": collections.defaultdict(list),
        "failures": [],
        "error_examples": [],
    }


def client_thread(opts, cid, stats, lock, start_at, end_at):
    # IMAP_MIX_PROFILE=DIR: each connection's thread profiles itself (cProfile is per thread) into DIR/conn-N.prof,
    # to see where the load client's own CPU goes (the profiler slows the client down: for the split, not the rate).
    profile_dir = os.environ.get("IMAP_MIX_PROFILE")
    if profile_dir:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
        try:
            run_client(opts, cid, stats, lock, start_at, end_at)
        finally:
            prof.disable()
            prof.dump_stats(os.path.join(profile_dir, "conn-%d.prof" % cid))
    else:
        run_client(opts, cid, stats, lock, start_at, end_at)


def run_client(opts, cid, stats, lock, start_at, end_at):
    mailbox, slot = cid // opts.clients_per_mailbox + 1, cid % opts.clients_per_mailbox
    mine = new_stats()
    c = Conn(opts, cid, mailbox, slot, mine)
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < end_at and len(mine["failures"]) < 5:
        try:
            c.connect()
            while time.time() < end_at:
                c.step(c.pick(opts.seed_messages))
        except (imaplib.IMAP4.error, OSError, RuntimeError, socket.timeout) as e:
            # A dropped or refused connection is counted and the client starts again, as a mail client would.
            mine["failures"].append("connection %d: %s: %s" % (cid, type(e).__name__, e))
            c.imap = None
            c.pending_appends.clear()
        finally:
            c.close()
    with lock:
        merge(stats, mine)


def merge(into, s):
    for k in ("count", "errors", "state_errors", "notices"):
        into[k].update(s[k])
    for k, v in s["lat"].items():
        into["lat"][k].extend(v)
    for k, v in s["examples"].items():
        into["examples"][k].extend(v[: max(0, 3 - len(into["examples"][k]))])
    into["failures"].extend(s["failures"])
    into["error_examples"].extend(s["error_examples"][: max(0, 5 - len(into["error_examples"]))])


def worker(opts, cids, start_at, end_at, queue):
    stats, lock = new_stats(), threading.Lock()
    threads = [threading.Thread(target=client_thread, args=(opts, cid, stats, lock, start_at, end_at)) for cid in cids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats["finished"] = time.time()
    queue.put({k: (dict(v) if isinstance(v, (collections.Counter, collections.defaultdict)) else v) for k, v in stats.items()})


def seed(opts):
    """Fills every mailbox up to SEED messages and creates the second folder, before the clock runs."""

    def one(n):
        c = Conn(opts, 10_000 + n, n, 0, new_stats())
        c.connect()
        c.run("create", "CREATE " + OTHER_FOLDER, lambda: c.imap.create(OTHER_FOLDER))
        have = len(c.uids)
        for i in range(have, opts.seed_messages):
            c.run("append", "APPEND", lambda: c.imap.append("INBOX", "(\\Seen)" if i % 3 else None, None, message(0, i)))
        c.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, opts.mailboxes + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true", help="implicit TLS (IMAPS); the certificate is not checked")
    ap.add_argument("--user-format", required=True, help="user name of mailbox n, e.g. m{n}@bench.test")
    ap.add_argument("--password", required=True)
    ap.add_argument("--mailboxes", type=int, default=5)
    ap.add_argument("--clients-per-mailbox", type=int, default=4)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--seed-messages", type=int, default=200)
    ap.add_argument("--procs", type=int, default=2, help="worker processes (threads of one process share its GIL)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1, help="random seed")
    ap.add_argument("--label", default="")
    ap.add_argument("--client", choices=("lean", "imaplib"), default="lean",
                    help="the IMAP client code: lean (same conversation, less CPU per response line) or imaplib")
    opts = ap.parse_args()

    t = time.time()
    seed(opts)
    print("%s: %d mailboxes seeded to %d messages in %.1f s" % (opts.label, opts.mailboxes, opts.seed_messages, time.time() - t))
    clients = opts.mailboxes * opts.clients_per_mailbox
    start_at = time.time() + 1.0
    end_at = start_at + opts.duration
    queue = mp.Queue()
    procs = [mp.Process(target=worker, args=(opts, list(range(i, clients, opts.procs)), start_at, end_at, queue))
             for i in range(opts.procs)]
    for p in procs:
        p.start()
    total = new_stats()
    finished = start_at
    for _ in procs:
        s = queue.get()
        finished = max(finished, s.pop("finished"))
        s = {k: (collections.Counter(v) if k in ("count", "errors", "state_errors", "notices") else v) for k, v in s.items()}
        merge(total, s)
    for p in procs:
        p.join()

    elapsed = finished - start_at
    n = sum(total["count"].values())
    errors = sum(total["errors"].values())
    state_errors = sum(total["state_errors"].values())
    alllat = [x for v in total["lat"].values() for x in v]
    print("%s: %d mailboxes x %d connections, %d processes, %.1f s, TLS %s, client %s"
          % (opts.label, opts.mailboxes, opts.clients_per_mailbox, opts.procs, elapsed, "on" if opts.tls else "off", opts.client))
    print("  %-15s %9s %7s %9s %9s %9s" % ("command", "count", "errors", "p50 ms", "p95 ms", "p99 ms"))
    for name in sorted(total["count"], key=lambda k: -total["count"][k]):
        lat = total["lat"][name]
        print("  %-15s %9d %7d %9.2f %9.2f %9.2f" % (name, total["count"][name], total["errors"][name],
                                                     pct(lat, 50), pct(lat, 95), pct(lat, 99)))
    print("  %-15s %9d %7d %9.2f %9.2f %9.2f" % ("all", n, errors, pct(alllat, 50), pct(alllat, 95), pct(alllat, 99)))
    print("  commands/s: %.1f" % (n / elapsed if elapsed > 0 else 0))
    print("  state errors: %d %s" % (state_errors, dict(total["state_errors"]) or ""))
    print("  notices: %s" % (dict(total["notices"]) or "none"))
    for kind, examples in total["examples"].items():
        for e in examples:
            print("  STATE ERROR %s: %s" % (kind, e))
    for e in total["error_examples"]:
        print("  NO/BAD " + e)
    for f in total["failures"][:10]:
        print("  FAILURE " + f)
    if len(total["failures"]) > 10:
        print("  ... %d more failures" % (len(total["failures"]) - 10))
    print("RESULT commands_per_s=%.1f commands=%d state_errors=%d errors=%d failures=%d p50_ms=%.2f p99_ms=%.2f"
          % (n / elapsed if elapsed > 0 else 0, n, state_errors, errors, len(total["failures"]), pct(alllat, 50), pct(alllat, 99)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
