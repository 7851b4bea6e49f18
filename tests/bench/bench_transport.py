"""Benchmark: one write's client CPU on each HTTP transport, against the emulator.

    .venv/bin/python -m tests.bench.bench_transport [--requests 3000 --in-flight 8 --rounds 3]

A Plex scrobble through `PlexServerClient` (pacing, headers, `servers/http.py`'s send, as
a full sync's writes go) on the manager's client (`servers/pools.py`: httpx over aiohttp's
connections, which servers/http.py sends on straight) and on httpx's own transport
(httpcore over anyio, what the manager used before), and the floor: a bare aiohttp session
sending the same request. The emulator runs in its own process, so the process's CPU time
is the client's alone; CPU time, not wall time, because this machine's virtual CPUs are
taken away for seconds at a time. The variants take turns within each round, so a slow
minute falls on all of them. Prints each variant's client CPU per request in every round,
then the ratios of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from manager.servers.plex.client import LIBRARY_IDENTIFIER, PlexServerClient
from manager.servers.pools import server_client
from tests.bench.sync_fixture import main as write_fixture
from tests.support.processes import emulator_process

type Send = Callable[[str], Awaitable[None]]


async def _timed(send: Send, keys: list[str], requests: int, in_flight: int) -> float:
    """Client CPU seconds per request for `requests` scrobbles, `in_flight` at once."""
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            await send(keys[n % len(keys)])

    await asyncio.gather(*(one(n) for n in range(200)))  # connections open, code warm
    started = time.process_time()
    await asyncio.gather(*(one(n) for n in range(requests)))
    return (time.process_time() - started) / requests


async def _through_client(http: httpx.AsyncClient, entry: dict[str, Any], **run: Any) -> float:
    client = PlexServerClient(
        entry["url"], http, "bench-transport", name="s1", interactive_concurrency=8
    )
    try:
        return await _timed(lambda key: client.scrobble(entry["owner_token"], key), **run)
    finally:
        await http.aclose()


async def _bare(entry: dict[str, Any], **run: Any) -> float:
    url = f"{entry['url']}/:/scrobble"
    headers = {"X-Plex-Token": entry["owner_token"], "Accept": "application/json"}
    async with aiohttp.ClientSession() as session:

        async def send(key: str) -> None:
            params = {"identifier": LIBRARY_IDENTIFIER, "key": key}
            async with session.get(url, params=params, headers=headers) as response:
                await response.read()
                response.raise_for_status()

        return await _timed(send, **run)


VARIANTS: dict[str, Callable[..., Awaitable[float]]] = {
    "manager (straight on aiohttp)": lambda entry, **run: _through_client(
        server_client(30.0, ssl.create_default_context()), entry, **run
    ),
    "httpx's own transport": lambda entry, **run: _through_client(
        httpx.AsyncClient(timeout=30.0), entry, **run
    ),
    "floor: bare aiohttp": _bare,
}


async def _movie_keys(entry: dict[str, Any]) -> list[str]:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{entry['url']}/library/sections/1/all",
            headers={"X-Plex-Token": entry["owner_token"], "Accept": "application/json"},
        )
    return [m["ratingKey"] for m in response.json()["MediaContainer"]["Metadata"]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--in-flight", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    run = {"requests": args.requests, "in_flight": args.in_flight}
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "fixture.yaml"
        write_fixture([str(fixture), "--movies", "500", "--shows", "2"])
        with emulator_process(fixture) as described:
            entry = described["servers"][0]
            keys = asyncio.run(_movie_keys(entry))
            for n in range(args.rounds):
                for name, variant in VARIANTS.items():
                    per = asyncio.run(variant(entry, keys=keys, **run))
                    results[name].append(per)
                    print(f"round {n + 1}: {name:28} {per * 1e3:.3f} ms client CPU a request")
    median = {name: statistics.median(values) for name, values in results.items()}
    ours, own, floor = median.values()
    print(
        f"medians: manager {ours * 1e3:.3f} ms, httpx's own {own * 1e3:.3f} ms, bare aiohttp "
        f"{floor * 1e3:.3f} ms; manager / httpx's own {ours / own:.2f}x, "
        f"manager / floor {ours / floor:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
