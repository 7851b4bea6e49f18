"""Benchmark: build LibraryIndex for 3 emulated servers × ~20 000 items, print the numbers.

    .venv/bin/python -m tests.bench.bench_index [--movies N] [--shows S] [--page-size P]

The emulator runs in its own process so that this process's memory is ours alone.
Not part of the test run (measures speed; the shared CI machine makes timed asserts flaky).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
import yaml

from manager.servers.index import LibraryIndex
from manager.servers.models import Credential
from manager.servers.plex.client import PlexServerClient
from manager.servers.plex.server import PlexMediaServer
from tests.fakeplex.generate import add_size_arguments, big_fixture, sizes_from
from tests.support.processes import emulator_process


async def run(
    describe: dict, page_size: int, concurrency: int, json_wire: bool, memory: bool
) -> None:
    async with httpx.AsyncClient(timeout=120.0) as http:
        indexes = [
            LibraryIndex(
                PlexMediaServer(
                    PlexServerClient(
                        s["url"],
                        http,
                        "bench",
                        name=s["name"],
                        max_concurrency=concurrency,
                        prefer_json=json_wire,
                    )
                ),
                Credential(s["owner_token"]),
                page_size=page_size,
            )
            for s in describe["servers"]
        ]
        gc.collect()
        if memory:  # tracemalloc slows allocation-heavy code down: opt-in
            tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        await asyncio.gather(*(i.refresh() for i in indexes))
        wall = time.perf_counter() - started
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        items = sum(len(i) for i in indexes)
        print(
            f"wire={'json' if json_wire else 'xml'} page_size={page_size} concurrency={concurrency}"
        )
        for i in indexes:
            print(
                f"  {i.name}: {len(i)} entries {i.counts} requests={i.server.request_count} "
                f"build={i.build_seconds:.2f}s"
            )
        print(f"  total: {items} entries in {wall:.2f}s wall = {items / wall:,.0f} items/s")
        source, peers = indexes[0], indexes[1:]
        started = time.perf_counter()
        found = looked = 0
        for entry in source.items():
            ident = source.identity(entry)
            for peer in peers:
                looked += 1
                found += peer.lookup(ident) is not None
        spent = time.perf_counter() - started
        print(
            f"  lookups: {looked:,} (identity + lookup) in {spent:.2f}s = "
            f"{looked / spent:,.0f}/s, {found:,} found"
        )
        if memory:
            print(
                f"  memory held by the indexes: {(held - base) / 2**20:.1f} MiB "
                f"({(held - base) / max(1, items):.0f} B/entry), peak during build "
                f"{(peak - base) / 2**20:.1f} MiB"
            )


def main() -> int:
    ap = argparse.ArgumentParser()
    add_size_arguments(ap)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--xml", action="store_true", help="ask for XML instead of JSON")
    ap.add_argument("--memory", action="store_true", help="measure memory (slower)")
    args = ap.parse_args()
    fixture = big_fixture(servers=3, users=5, **sizes_from(args))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(yaml.safe_dump(fixture))
        with emulator_process(path) as describe:
            asyncio.run(run(describe, args.page_size, args.concurrency, not args.xml, args.memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
