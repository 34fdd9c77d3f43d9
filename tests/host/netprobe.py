"""Listen on ports, or probe them, inside a network namespace (`ip netns exec NS python3 ...`).

  netprobe.py listen tcp:22 tcp:8080 udp:53 ...   bind on 0.0.0.0, print "ready", serve
                                                   (TCP: accept and close; UDP: echo)
  netprobe.py probe TIMEOUT SRC,PROTO,DST,PORT ...  one JSON line: {"SRC,PROTO,DST,PORT": bool}

A probe succeeds when a TCP connection is accepted or a UDP datagram is answered. Probes
run in parallel, so every dropped one costs one TIMEOUT, not one each.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def listen(specs: list[str]) -> None:
    sel = selectors.DefaultSelector()
    for spec in specs:
        proto, port = spec.split(":")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", int(port)))
        if proto == "tcp":
            sock.listen(16)
        sel.register(sock, selectors.EVENT_READ, proto)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            server = key.fileobj
            assert isinstance(server, socket.socket)
            if key.data == "tcp":
                conn, _ = server.accept()
                conn.close()
            else:
                data, peer = server.recvfrom(512)
                server.sendto(data, peer)


def probe_one(spec: str, timeout: float) -> bool:
    src, proto, dst, port = spec.split(",")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(timeout)
        sock.bind((src, 0))
        try:
            if proto == "tcp":
                sock.connect((dst, int(port)))
                return True
            sock.sendto(b"probe", (dst, int(port)))
            return sock.recv(512) == b"probe"
        except OSError:  # timed out (dropped) or refused (nothing listens)
            return False


def probe(timeout: float, specs: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        results = pool.map(lambda s: probe_one(s, timeout), specs)
        print(json.dumps(dict(zip(specs, results, strict=True))))


if __name__ == "__main__":
    if sys.argv[1] == "listen":
        listen(sys.argv[2:])
    else:
        probe(float(sys.argv[2]), sys.argv[3:])
