"""The proxy benchmark's HTTP/2 scenario: a browser-like client on the TLS listener,
HTTP/2 on and off, per upstream scheme (mitmproxy holds at most 5 upstream connections per
client connection, mitmproxy issue 8322)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from tests.bench.proxy_processes import start
from tests.bench.proxy_upstream import upstream_process
from tests.proxy.harness import Receiver
from tests.proxy.tls import make_certificates
from tests.support.processes import LOCALHOST, mitmdump_proxy

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
