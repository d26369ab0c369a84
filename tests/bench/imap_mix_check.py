#!/usr/bin/env python3
"""Checks that imap_mix.py's lean client holds the same conversation as imaplib: both run one script
of commands against a small scripted IMAP server on loopback (tagged OK/NO/BAD, BYE, response codes,
a FETCH with a literal, APPEND with its continuation), and every command's result and untagged events
(type, data, in order) must be equal. No network beyond loopback, standard library only.
    python3 tests/bench/imap_mix_check.py
"""
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imap_mix  # noqa: E402
import imaplib  # noqa: E402

BODY = b"Subject: x\r\n\r\nhello {5}\r\n"
received = {}  # client class name -> the command lines the server read, tags left out


def serve(conn):
    f = conn.makefile("rb")
    log = None
    w = lambda b: conn.sendall(b)
    w(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    while True:
        line = f.readline()
        if not line: return
        line = line.rstrip(b"\r\n")
        tag, _, rest = line.partition(b" ")
        if rest.upper().startswith(b"LOGIN"):
            log = received.setdefault(rest.split(b" ")[1].decode(), [])
        if log is not None:
            log.append(rest)
        cmd = rest.split(b" ")[0].upper()
        if cmd == b"CAPABILITY":
            w(b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n" + tag + b" OK done\r\n")
        elif cmd == b"LOGIN":
            w(tag + b" OK [CAPABILITY IMAP4rev1] Logged in\r\n")
        elif cmd == b"SELECT":
            w(b"* FLAGS (\\Seen \\Deleted $Bench1)\r\n* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 77] v\r\n* OK [UIDNEXT 9] n\r\n" + tag + b" OK [READ-WRITE] SELECT completed\r\n")
        elif cmd == b"FETCH":
            w(b"* 1 FETCH (UID 4 FLAGS (\\Seen))\r\n* 2 FETCH (UID 5 FLAGS ())\r\n* 3 FETCH (UID 8 FLAGS ($Bench1))\r\n" + tag + b" OK FETCH completed\r\n")
        elif cmd == b"UID" and b"BODY" in rest:
            w(b"* 2 FETCH (UID 5 BODY[] {%d}\r\n" % len(BODY) + BODY + b" FLAGS (\\Seen))\r\n* 4 EXISTS\r\n" + tag + b" OK UID FETCH completed\r\n")
        elif cmd == b"UID":
            w(b"* 2 FETCH (FLAGS (\\Seen) UID 5)\r\n* 1 EXPUNGE\r\n" + tag + b" OK UID done\r\n")
        elif cmd == b"APPEND":
            n = int(re.search(rb"{(\d+)}$", line).group(1))
            w(b"+ Ready\r\n"); f.read(n); f.readline()
            w(b"* 5 EXISTS\r\n* 1 RECENT\r\n" + tag + b" OK [APPENDUID 77 12] APPEND completed\r\n")
        elif cmd == b"EXPUNGE":
            w(b"* 2 EXPUNGE\r\n" + tag + b" NO nope\r\n")
        elif cmd == b"NOOP":
            w(tag + b" BAD bad thing\r\n")
        elif cmd == b"LOGOUT":
            w(b"* BYE bye\r\n" + tag + b" OK LOGOUT completed\r\n"); conn.close(); return
        else:
            w(tag + b" OK whatever\r\n")

srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("127.0.0.1", 0)); srv.listen()
port = srv.getsockname()[1]
def acc():
    while True:
        c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=acc, daemon=True).start()

def script(cls):
    out = []
    c = cls("127.0.0.1", port, timeout=5)
    user = cls.__name__
    out.append(("greet", c.take_events()))
    for name, fn in [("login", lambda: c.login(user, 'p"w')), ("select", lambda: c.select("INBOX")),
                     ("fetch", lambda: c.fetch("1:*", "(UID FLAGS)")), ("body", lambda: c.uid("FETCH", "5", "(UID BODY.PEEK[])")),
                     ("store", lambda: c.uid("STORE", "5", "+FLAGS", "(\\Seen)")),
                     ("append", lambda: c.append("INBOX", "(\\Seen)", None, b"From: a\r\n\r\nbody\r\n")),
                     ("expunge", lambda: c.expunge()), ("noop", lambda: c.noop()), ("logout", lambda: c.logout())]:
        try:
            typ, dat = fn()
        except imaplib.IMAP4.error as e:
            typ, dat = "EXC", type(e).__name__
        out.append((name, typ, c.take_events()))
    return out

a = script(imap_mix.PlainIMAP); b = script(imap_mix.LeanIMAP)
ok = True
for x, y in zip(a, b):
    if x != y:
        ok = False; print("DIFF\n  imaplib", x, "\n  lean   ", y)
def same_user(lines, user):
    return [line.replace(user.encode(), b"USER") for line in lines or []]


if same_user(received.get("Tracking"), "Tracking") != same_user(received.get("LeanIMAP"), "LeanIMAP"):
    ok = False
    print("DIFF in what the server read\n  imaplib", received.get("Tracking"), "\n  lean   ", received.get("LeanIMAP"))
print("lean client and imaplib: %s (%d steps)" % ("same conversation" if ok else "DIFFERENT", len(a)))
sys.exit(0 if ok else 1)
