#!/usr/bin/env python3
"""Opens N SMTP connections to a server, reads each greeting, says EHLO, and holds them idle.
Then reports how many are open and the server's memory (from /proc/PID/status)."""
import argparse, selectors, socket, sys, time


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("--hold", type=float, default=10)
    a = p.parse_args()
    before = rss_mib(a.pid)
    socks = []
    sel = selectors.DefaultSelector()
    for i in range(a.n):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, [b"", 0])  # buffer, stage (0: greeting, 1: ehlo reply)
    ready = 0
    deadline = time.monotonic() + 300
    while ready < a.n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s, state = key.fileobj, key.data
            data = s.recv(65536)
            if not data:
                sel.unregister(s)
                continue
            state[0] += data
            if state[1] == 0 and state[0].endswith(b"\r\n") and state[0].startswith(b"220"):
                state[0], state[1] = b"", 1
                s.sendall(b"EHLO idle.example.org\r\n")
            elif state[1] == 1 and b"\r\n250 " in b"\r\n" + state[0]:
                state[1] = 2
                ready += 1
                sel.unregister(s)
    time.sleep(a.hold)
    alive = 0
    for s in socks:
        try:
            s.setblocking(False)
            if s.recv(1, socket.MSG_PEEK) == b"":
                continue
        except BlockingIOError:
            alive += 1  # nothing to read and not closed: still open and idle
        except OSError:
            continue
    print(f"connections={a.n} ehlo_done={ready} still_open={alive} server_rss_before_mib={before:.0f} "
          f"server_rss_mib={rss_mib(a.pid):.0f} server_peak_mib={rss_mib(a.pid, 'VmHWM'):.0f}")
    return 0 if ready == a.n and alive == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
