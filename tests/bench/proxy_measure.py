"""The proxy benchmark's measuring side: a lean keep-alive HTTP/1.1 client (Python clients
are slower than the proxy), latency, requests/s, a process's CPU time, 1 GiB streaming
throughput and the first byte of a slow chunked response."""

from __future__ import annotations

import os
import socket
import ssl
import statistics
import threading
import time
from pathlib import Path

import httpx

from tests.bench.proxy_upstream import GIB
from tests.support.processes import LOCALHOST


class Conn:
    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection((LOCALHOST, port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self.port = port
        self.buf = b""

    def get(self, path: str, token: bool = True) -> tuple[int, bytes]:
        extra = "X-Plex-Token: bench-token-0123456789\r\nX-Plex-Client-Identifier: bench\r\n"
        req = f"GET {path} HTTP/1.1\r\nHost: {LOCALHOST}:{self.port}\r\n"
        self.sock.sendall((req + (extra if token else "") + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        length = int(lowered.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def close(self) -> None:
        self.sock.close()


def latencies(port: int, path: str, n: int) -> list[float]:
    conn = Conn(port)
    for _ in range(50):  # warm-up; a real position, or the addon rightly reports nothing
        conn.get(path.format(t=0) if "{t}" in path else path)
    out = []
    for i in range(n):
        p = path.format(t=i * 1000) if "{t}" in path else path
        t0 = time.perf_counter()
        status, _ = conn.get(p)
        out.append(time.perf_counter() - t0)
        assert status == 200, status
    conn.close()
    return out


def throughput(port: int, path: str, conns: int, seconds: float) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * conns

    def worker(i: int) -> None:
        conn = Conn(port)
        while time.perf_counter() < stop:
            conn.get(path)
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (the addon's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def counted(port: int, path: str, conns: int, total: int) -> float:
    """Send `total` requests over `conns` connections; return requests/s."""

    def worker() -> None:
        conn = Conn(port)
        for _ in range(total // conns):
            conn.get(path)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (total // conns * conns) / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- stream path ----------------------------------------------------------------------


def stream_gib(port: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    with httpx.stream("GET", f"http://{LOCALHOST}:{port}/file?size={GIB}", timeout=120) as r:
        for chunk in r.iter_raw(1 << 20):
            n += len(chunk)
    assert n == GIB, n
    return n / (time.perf_counter() - t0) / (1 << 20), n


def _first_byte_once(port: int, delay: float, chunks: int) -> float:
    t0 = time.perf_counter()
    url = f"http://{LOCALHOST}:{port}/chunked?delay={delay}&n={chunks}"
    with httpx.stream("GET", url, timeout=60) as r:
        for _ in r.iter_raw():
            return time.perf_counter() - t0
    return float("nan")


def first_byte(port: int, delay: float = 0.5, chunks: int = 6) -> float:
    """Median of 3 after a warm-up (a fresh process's first streamed response is slower)."""
    _first_byte_once(port, delay, 1)
    return statistics.median(_first_byte_once(port, delay, chunks) for _ in range(3))
