#!/usr/bin/env python3
"""A delay line between two network namespaces, for bench/long-path (this kernel has no netem).

    delay-line.py NS_A NS_B DELAY_MS [QUEUE]

Makes a TUN device in each namespace (dla in NS_A, dlb in NS_B; bench/long-path gives them their
addresses) and forwards every IP packet from one to the other DELAY_MS later, each way. Beyond
QUEUE packets waiting in one direction (default 20000) a packet is dropped, as a router's queue
would drop it. Prints "ready" once both devices exist.
"""
import ctypes, fcntl, os, select, struct, sys, time, collections
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
libc = ctypes.CDLL("libc.so.6", use_errno=True)
def tun_in(ns, name):
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)
    t = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(t, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return t
a = tun_in(sys.argv[1], "dla"); b = tun_in(sys.argv[2], "dlb")
delay = float(sys.argv[3]) / 1000.0
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 20000  # packets queued per direction (tail drop beyond)
q = {a: collections.deque(), b: collections.deque()}  # queued towards the key fd
other = {a: b, b: a}
print("ready", flush=True)
while True:
    now = time.monotonic()
    due = min((q[f][0][0] for f in q if q[f]), default=None)
    timeout = None if due is None else max(0.0, due - now)
    r, _, _ = select.select([a, b], [], [], timeout)
    now = time.monotonic()
    for f in r:
        dst = other[f]
        for _ in range(256):
            try:
                p = os.read(f, 65536)
            except BlockingIOError:
                break
            if len(q[dst]) < limit:
                q[dst].append((now + delay, p))
    for f in q:
        d = q[f]
        while d and d[0][0] <= now:
            try:
                os.write(f, d[0][1])
            except BlockingIOError:
                break
            d.popleft()
