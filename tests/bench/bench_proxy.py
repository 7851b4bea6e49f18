"""Proxy benchmark: what the addon costs, against a direct connection and bare mitmdump.

    .venv/bin/python tests/bench/bench_proxy.py [--quick]

Prints numbers and ratios; asserts nothing (a shared 2-core machine is noisy). Measures in
one run: added latency of a small API call (p50/p99) and API requests/s at 1 and 10
connections for direct, bare `mitmdump -q`, mitmdump -q + addon and the addon at default
verbosity (flow lines + redaction); a playback heartbeat through the addon (spool write on
the response path); 1 GiB streaming throughput and peak RSS; first byte of a slow chunked
response; HTTP/2 on the TLS listener (mitmproxy holds at most 5 upstream connections per
client connection, mitmproxy issue 8322).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.proxy.harness import Receiver  # noqa: E402
from tests.proxy.tls import make_certificates  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402
from tests.support.processes import (  # noqa: E402
    LOCALHOST,
    MITMDUMP,
    MitmdumpProcess,
    connectable,
    free_port,
    mitmdump_proxy,
    stop_process,
)

API_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="1">'
    + (b'<Directory key="1" type="movie" title="Movies" agent="tv.plex.agents.movie"/>' * 3)
    + b"</MediaContainer>"
)
TIMELINE = (
    "/:/timeline?ratingKey=101&key=/library/metadata/101&state=playing&time={t}"
    "&duration=7200000&identifier=com.plexapp.plugins.library"
)
GIB = 1 << 30

# ---- upstream: asyncio, in its own process so it never competes for our GIL -------------


async def _serve(port: int, tls_pem: str | None = None) -> None:
    block = bytes(range(256)) * 4096

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, _, rest = head.partition(b"\r\n")
                lowered = rest.lower()
                if b"content-length:" in lowered:
                    n = int(lowered.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                    await reader.readexactly(n)
                target = line.split(b" ")[1].decode()
                path, _, query = target.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if path == "/file":
                    size = int(params.get("size", GIB))
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
                        b"Content-Length: %d\r\n\r\n" % size
                    )
                    sent = 0
                    while sent < size:
                        take = min(len(block), size - sent)
                        writer.write(block[:take])
                        sent += take
                        await writer.drain()
                elif path == "/chunked":
                    delay, n = float(params.get("delay", "0.5")), int(params.get("n", "6"))
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                    for i in range(n):
                        if i:
                            await asyncio.sleep(delay)
                        writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    if path == "/slow":
                        await asyncio.sleep(float(params.get("delay", "1")))
                    body = b'<MediaContainer size="0"/>' if path.startswith("/:/") else API_BODY
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=utf-8\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, LOCALHOST, port, backlog=1024)]
    if tls_pem:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_pem)
        ctx.set_alpn_protocols(["http/1.1"])
        servers.append(await asyncio.start_server(handle, LOCALHOST, port + 1, ssl=ctx))
    await asyncio.gather(*(srv.serve_forever() for srv in servers))


@contextlib.contextmanager
def upstream_process(tls_pem: Path | None = None) -> Iterator[int]:
    """Plain HTTP on the port returned; with tls_pem also HTTPS (HTTP/1.1 only) on port+1."""
    port = _free_pair() if tls_pem else free_port()
    argv = [sys.executable, __file__, "--serve-upstream", str(port)]
    if tls_pem:
        argv += ["--tls-pem", str(tls_pem)]
    proc = subprocess.Popen(argv)
    try:
        wait_for(lambda: connectable(port), 20)
        yield port
    finally:
        stop_process(proc, 10)


def _free_pair() -> int:
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind((LOCALHOST, port + 1))
            except OSError:
                continue
        return port


# ---- a lean keep-alive HTTP/1.1 client (Python clients are slower than the proxy) -------


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


# ---- HTTP/2 on the TLS listener ---------------------------------------------------------


STALL_LIMIT = 15.0


class BrowserTLS(ssl.SSLContext):
    """Offers h2 first, then http/1.1, as browsers do (httpx would put http/1.1 first)."""

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        super().set_alpn_protocols(["h2", "http/1.1"])


def browser_tls(ca: Path) -> BrowserTLS:
    ctx = BrowserTLS(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca))
    return ctx


def _client(url: str, trust: ssl.SSLContext) -> httpx.AsyncClient:
    """Like a browser: HTTP/2 on one connection if offered, else up to six HTTP/1.1."""
    return httpx.AsyncClient(
        http1=True,
        http2=True,
        verify=trust,
        limits=httpx.Limits(max_connections=6),
        timeout=STALL_LIMIT,
    )


async def _parallel(url: str, trust: ssl.SSLContext, n: int) -> dict[str, Any]:
    """n requests that each take the upstream 1 s, all at once; how many finish, how fast."""
    async with _client(url, trust) as c:
        try:
            first = await c.get(f"{url}/api")
        except httpx.HTTPError as exc:
            return {"negotiated": None, "error": f"{type(exc).__name__}: {exc}"}
        t0 = time.perf_counter()
        done: list[float] = []

        async def one() -> None:
            with contextlib.suppress(httpx.HTTPError):
                r = await c.get(f"{url}/slow?delay=1")
                if r.status_code == 200:
                    done.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(n)))
        return {
            "negotiated": first.http_version,
            "finished": len(done),
            "of": n,
            "last_s": max(done) if done else None,
        }


async def _stall(url: str, trust: ssl.SSLContext, live_n: int) -> float | None:
    """`live_n` live streams (4 s each) open, then one API call: seconds, None if stuck."""
    async with _client(url, trust) as c:
        try:
            await c.get(f"{url}/api")
        except httpx.HTTPError:
            return None
        started = 0
        all_open = asyncio.Event()

        async def live() -> None:
            nonlocal started
            with contextlib.suppress(httpx.TimeoutException):
                async with c.stream("GET", f"{url}/chunked?delay=1&n=5") as r:
                    started += 1
                    if started == live_n:
                        all_open.set()
                    async for _ in r.aiter_raw():
                        pass

        tasks = [asyncio.create_task(live()) for _ in range(live_n)]
        try:
            await asyncio.wait_for(all_open.wait(), STALL_LIMIT)
        except TimeoutError:
            await asyncio.gather(*tasks)
            return None
        t0 = time.perf_counter()
        try:
            await c.get(f"{url}/api")
            took: float | None = time.perf_counter() - t0
        except httpx.TimeoutException:
            took = None
        await asyncio.gather(*tasks)
        return took


async def _sequential(url: str, trust: ssl.SSLContext, n: int) -> float:
    async with _client(url, trust) as c:
        for _ in range(20):
            await c.get(f"{url}/api")
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            await c.get(f"{url}/api")
            lat.append(time.perf_counter() - t0)
        return statistics.median(lat) * 1e3


def _secs(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else f"stuck (> {STALL_LIMIT:.0f} s)"


def hook_cost_us(n: int = 20000) -> float:
    """The addons' own per-request hooks on a real mitmproxy flow, in this process."""
    from mitmproxy.test import taddons, tflow

    from addons.plex_cluster import default_addons

    addons = default_addons()
    hooks = [
        getattr(a, name)
        for name in ("requestheaders", "request", "responseheaders")
        for a in addons
        if hasattr(a, name)
    ]
    with taddons.context(*addons) as tctx:
        data = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
        for addon in addons:
            tctx.configure(addon, cluster_data_dir=str(data), confdir=str(data / "mitmproxy"))
        flow = tflow.tflow(resp=True)
        flow.request.path = "/library/sections/1/all?type=1&includeGuids=1"
        flow.response.headers["content-length"] = str(len(API_BODY))
        t0 = time.perf_counter()
        for _ in range(n):
            for hook in hooks:
                hook(flow)
        took = (time.perf_counter() - t0) / n * 1e6
        for addon in addons:
            if hasattr(addon, "done"):
                addon.done()
    return took


# ---- the run ------------------------------------------------------------------------------


_started: list[MitmdumpProcess] = []  # stopped at exit even when a measurement fails


def start(proxy: MitmdumpProcess) -> MitmdumpProcess:
    _started.append(proxy)
    proxy.start()
    return proxy


def bare(upstream: str, workdir: Path, extra: list[str] | None = None) -> MitmdumpProcess:
    p = mitmdump_proxy(upstream, workdir, addon=False, extra=["-q", *(extra or [])])
    _started.append(p)
    p.start(wait=False)
    wait_for(lambda: connectable(p.port), 30)
    time.sleep(0.5)
    return p


def run(quick: bool) -> dict[str, Any]:
    n_lat = 300 if quick else 1000
    secs = 1.0 if quick else 2.0
    n_ten = 1000 if quick else 3000
    results: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    receiver = Receiver()
    with upstream_process() as up_port:
        upstream = f"http://{LOCALHOST}:{up_port}"
        # Two processes each of bare and addon: CPU cost per request differs between
        # processes on a shared machine (placement, neighbours) by more than the addon costs.
        instances: list[tuple[str, MitmdumpProcess | None]] = [("direct", None)]
        for i in range(2):
            instances.append(("bare -q", bare(upstream, tmp / f"bare-{i}")))
            instances.append(
                (
                    "addon -q",
                    start(
                        mitmdump_proxy(
                            upstream, tmp / f"addon-{i}", manager=receiver.url, extra=["-q"]
                        )
                    ),
                )
            )
        instances.append(
            ("addon, flow log", start(mitmdump_proxy(upstream, tmp / "log", manager=receiver.url)))
        )
        targets: dict[str, MitmdumpProcess | None] = {}
        for kind, proxy in instances:
            targets.setdefault(kind, proxy)
        # Flow lines go to a file, not a terminal: what a container does. The machine is
        # shared, so targets take turns over several rounds and medians are reported; CPU
        # per request of the proxy process (all threads) is the steadier cost measure.
        rounds = 2 if quick else 4
        print(
            f"upstream {upstream}; {rounds} interleaved rounds (two processes each for bare "
            f"and addon) of {n_lat} sequential calls, "
            f"{secs:.0f} s at 1 connection, {n_ten} requests over 10 connections\n"
        )
        samples: dict[str, dict[str, list[float]]] = {
            name: {"lat": [], "rps_1": [], "rps_10": [], "cpu_us": []} for name in targets
        }
        for _ in range(rounds):
            order = list(instances)
            random.shuffle(order)
            for name, proxy in order:
                port = up_port if proxy is None else proxy.port
                got = samples[name]
                got["lat"] += latencies(port, "/api", n_lat)
                got["rps_1"].append(throughput(port, "/api", 1, secs))
                before = cpu_seconds(proxy.proc.pid) if proxy and proxy.proc else 0.0
                got["rps_10"].append(counted(port, "/api", 10, n_ten))
                if proxy and proxy.proc:
                    got["cpu_us"].append((cpu_seconds(proxy.proc.pid) - before) / n_ten * 1e6)
        api: dict[str, dict[str, float]] = {}
        for name, got in samples.items():
            row = {
                "p50_ms": statistics.median(got["lat"]) * 1e3,
                "p99_ms": pct(got["lat"], 0.99) * 1e3,
                "rps_1": statistics.median(got["rps_1"]),
                "rps_10": statistics.median(got["rps_10"]),
            }
            if got["cpu_us"]:
                row["cpu_us_per_req"] = statistics.median(got["cpu_us"])
                row["cpu_us_per_req_min"] = min(got["cpu_us"])
            api[name] = row
            cpu = (
                f"  CPU/req {row['cpu_us_per_req']:.0f} us (min {row['cpu_us_per_req_min']:.0f})"
                if "cpu_us_per_req" in row
                else ""
            )
            print(
                f"{name:>16}: API p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                f"{row['rps_1']:.0f} req/s @1  {row['rps_10']:.0f} req/s @10{cpu}"
            )
        results["api"] = api
        d, b, a = api["direct"], api["bare -q"], api["addon -q"]
        results["added_latency_ms"] = {
            "bare_p50": b["p50_ms"] - d["p50_ms"],
            "bare_p99": b["p99_ms"] - d["p99_ms"],
            "addon_p50": a["p50_ms"] - d["p50_ms"],
            "addon_p99": a["p99_ms"] - d["p99_ms"],
        }
        results["addon_vs_bare"] = {
            "rps_1": a["rps_1"] / b["rps_1"],
            "rps_10": a["rps_10"] / b["rps_10"],
            "capacity_by_cpu": b["cpu_us_per_req"] / a["cpu_us_per_req"],
            "capacity_by_min_cpu": b["cpu_us_per_req_min"] / a["cpu_us_per_req_min"],
            "flow_log_capacity_by_cpu": b["cpu_us_per_req"]
            / api["addon, flow log"]["cpu_us_per_req"],
        }
        hooks = hook_cost_us()
        results["addon_hooks_us_per_request"] = hooks
        results["addon_hooks_share_of_bare_cpu"] = hooks / b["cpu_us_per_req"]
        print(
            f"\naddon hooks alone (in-process, real flow): {hooks:.1f} us per API request = "
            f"{hooks / b['cpu_us_per_req']:.1%} of bare mitmdump's CPU per request"
        )
        print(
            "added latency vs direct: bare p50 +{bare_p50:.2f} ms p99 +{bare_p99:.2f} ms; "
            "addon p50 +{addon_p50:.2f} ms p99 +{addon_p99:.2f} ms".format(
                **results["added_latency_ms"]
            )
        )
        print(
            "addon / bare: {rps_1:.3f} req/s @1, {rps_10:.3f} req/s @10, "
            "{capacity_by_cpu:.3f} by median CPU per request, {capacity_by_min_cpu:.3f} by least "
            "(target >= 0.95); with flow log {flow_log_capacity_by_cpu:.3f}".format(
                **results["addon_vs_bare"]
            )
        )

        # A heartbeat through the addon: parsed, spooled before the response goes on, then
        # delivered by the background thread (its CPU counts: same process).
        addon_proxy, bare_proxy = targets["addon -q"], targets["bare -q"]
        assert addon_proxy is not None and addon_proxy.proc is not None
        assert bare_proxy is not None and bare_proxy.proc is not None
        receiver.clear()
        n_beat = n_lat
        cpu0 = cpu_seconds(addon_proxy.proc.pid)
        beat = latencies(addon_proxy.port, TIMELINE, n_beat)
        wait_for(lambda: len(receiver.received) >= n_beat + 50, timeout=120)
        addon_cpu = (cpu_seconds(addon_proxy.proc.pid) - cpu0) / (n_beat + 50) * 1e6
        cpu0 = cpu_seconds(bare_proxy.proc.pid)
        bare_beat = latencies(bare_proxy.port, TIMELINE, n_beat)
        bare_cpu = (cpu_seconds(bare_proxy.proc.pid) - cpu0) / (n_beat + 50) * 1e6
        results["heartbeat"] = {
            "addon_p50_ms": statistics.median(beat) * 1e3,
            "addon_p99_ms": pct(beat, 0.99) * 1e3,
            "addon_cpu_us": addon_cpu,
            "bare_p50_ms": statistics.median(bare_beat) * 1e3,
            "bare_p99_ms": pct(bare_beat, 0.99) * 1e3,
            "bare_cpu_us": bare_cpu,
        }
        print(
            "playback heartbeat /:/timeline: addon p50 {addon_p50_ms:.2f} ms p99 "
            "{addon_p99_ms:.2f} ms {addon_cpu_us:.0f} us CPU incl. spool + delivery; bare p50 "
            "{bare_p50_ms:.2f} ms p99 {bare_p99_ms:.2f} ms {bare_cpu_us:.0f} us CPU".format(
                **results["heartbeat"]
            )
        )
        for _, proxy in instances:
            if proxy is not None:
                proxy.stop()

        # 1 GiB through a fresh process each, so peak RSS is the stream's own
        print()
        stream: dict[str, dict[str, float]] = {}
        mbps, _ = stream_gib(up_port)
        stream["direct"] = {"MiB_s": mbps}
        addon = start(mitmdump_proxy(upstream, tmp / "addon-stream", manager=receiver.url))
        mbps, _ = stream_gib(addon.port)
        stream["addon"] = {"MiB_s": mbps, "peak_rss_MiB": addon.status_kb("VmHWM") / 1024}
        addon.stop()
        plain = bare(upstream, tmp / "bare-stream")
        mbps, _ = stream_gib(plain.port)
        stream["bare (buffers)"] = {"MiB_s": mbps, "peak_rss_MiB": plain.status_kb("VmHWM") / 1024}
        plain.stop()
        # mitmproxy's own streaming (every body): the ceiling for the addon's stream path
        plain = bare(upstream, tmp / "bare-stream-all", ["--set", "stream_large_bodies=1"])
        mbps, _ = stream_gib(plain.port)
        stream["bare, streaming"] = {
            "MiB_s": mbps,
            "peak_rss_MiB": plain.status_kb("VmHWM") / 1024,
        }
        plain.stop()
        for name, row in stream.items():
            rss = f", peak RSS {row['peak_rss_MiB']:.0f} MiB" if "peak_rss_MiB" in row else ""
            print(f"1 GiB stream {name:>15}: {row['MiB_s']:.0f} MiB/s{rss}")
        results["stream_1gib"] = stream
        results["stream_addon_vs_direct"] = stream["addon"]["MiB_s"] / stream["direct"]["MiB_s"]
        results["stream_addon_vs_bare_streaming"] = (
            stream["addon"]["MiB_s"] / stream["bare, streaming"]["MiB_s"]
        )
        print(
            f"addon / direct stream throughput: {results['stream_addon_vs_direct']:.3f}; "
            f"addon / bare streaming: {results['stream_addon_vs_bare_streaming']:.3f}"
        )

        # first byte of a live (chunked) response, 1 KiB every 0.5 s
        print()
        fb: dict[str, float] = {"direct": first_byte(up_port)}
        addon = start(mitmdump_proxy(upstream, tmp / "addon-fb", manager=receiver.url))
        fb["addon"] = first_byte(addon.port)
        addon.stop()
        plain = bare(upstream, tmp / "bare-fb")
        fb["bare"] = first_byte(plain.port)
        plain.stop()
        plain = bare(upstream, tmp / "bare-fb-sl", ["--set", "stream_large_bodies=1m"])
        fb["bare stream_large_bodies=1m"] = first_byte(plain.port)
        plain.stop()
        plain = bare(upstream, tmp / "bare-fb-s1", ["--set", "stream_large_bodies=1"])
        fb["bare stream_large_bodies=1"] = first_byte(plain.port)
        plain.stop()
        for name, secs_fb in fb.items():
            print(f"first byte of a slow chunked response, {name:>27}: {secs_fb * 1e3:.0f} ms")
        results["first_byte_ms"] = {k: v * 1e3 for k, v in fb.items()}

        print()
    results["http2"] = http2_section(tmp, receiver)
    receiver.down()
    return results


def http2_section(tmp: Path, receiver: Receiver) -> dict[str, Any]:
    """A browser-like client on the TLS listener, HTTP/2 on and off, per upstream scheme."""
    certs = make_certificates(tmp / "certs")
    pem = tmp / "listener.pem"
    pem.write_bytes(certs["privkey"].read_bytes() + certs["fullchain"].read_bytes())
    out: dict[str, Any] = {}
    with upstream_process(tls_pem=pem) as port:
        cases = [
            ("http upstream, http2=true", f"http://{LOCALHOST}:{port}", True, []),
            ("http upstream, http2=false", f"http://{LOCALHOST}:{port}", False, []),
            (
                "https upstream (HTTP/1.1 only), http2=true",
                f"https://{LOCALHOST}:{port + 1}",
                True,
                ["--set", "ssl_insecure=true"],
            ),
            (
                "https upstream (HTTP/1.1 only), http2=false",
                f"https://{LOCALHOST}:{port + 1}",
                False,
                ["--set", "ssl_insecure=true"],
            ),
        ]
        for n, (label, upstream, h2_on, extra) in enumerate(cases):
            proxy = start(
                mitmdump_proxy(
                    upstream,
                    tmp / f"tls-{n}",
                    manager=receiver.url,
                    extra=[
                        "-q",
                        "--set",
                        f"certs=*={pem}",
                        "--set",
                        f"cluster_http2={str(h2_on).lower()}",
                        *extra,
                    ],
                )
            )
            url = f"https://{LOCALHOST}:{proxy.port}"
            trust = browser_tls(certs["ca"])
            par = asyncio.run(_parallel(url, trust, 10))
            if par.get("error"):
                out[label] = par
                print(f"TLS listener, {label}: first request failed: {par['error']}")
                proxy.stop()
                continue
            seq = asyncio.run(_sequential(url, trust, 200))
            stall4 = asyncio.run(_stall(url, trust, 4))
            stall5 = asyncio.run(_stall(url, trust, 5))
            out[label] = {
                "negotiated": par["negotiated"],
                "api_p50_ms": seq,
                "ten_parallel_1s_requests": par,
                "api_with_4_live_streams_s": stall4,
                "api_with_5_live_streams_s": stall5,
            }
            print(
                f"TLS listener, {label}: browser-like client got {par['negotiated']}; "
                f"API p50 {seq:.2f} ms; 10 parallel 1-s requests: {par['finished']} done, "
                f"last after {_secs(par['last_s'])}; an API call beside 4 live streams "
                f"{_secs(stall4)}, beside 5 {_secs(stall5)}"
            )
            proxy.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tls-pem", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--http2-only", action="store_true", help="only the HTTP/2 section")
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(_serve(args.serve_upstream, args.tls_pem))
        return
    print(f"mitmdump: {MITMDUMP}\n")
    try:
        _measure(args)
    finally:
        for proxy in _started:
            proxy.stop()


def _measure(args: argparse.Namespace) -> None:
    if args.http2_only:
        receiver = Receiver()
        results = {"http2": http2_section(Path(tempfile.mkdtemp(prefix="bench-h2-")), receiver)}
        receiver.down()
    else:
        results = run(args.quick)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
