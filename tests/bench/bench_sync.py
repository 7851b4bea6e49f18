"""Benchmark: one full sync of 3 emulated servers × ~20 000 items × 5 users (+ the admin),
and the floor: what a lean bare client needs for the same reads and writes.

    .venv/bin/python -m tests.bench.bench_sync [--movies N --shows S --episodes E
                                                --diverge 0.1 --memory --no-second
                                                --no-floor --floor-in-flight 8
                                                --floor-transport aiohttp,httpx-aiohttp
                                                --floor-decode typed|orjson --json]

The emulator runs in its own process (so the numbers here are the manager's alone) and so
does the writing of the fixture (at large sizes it needs more memory than the manager);
the database is a real SQLite file in a temporary directory; writes go through the real
outbox. Prints wall time per phase, requests per server (library reads vs writes), items
compared per second and peak memory; then a second sync, which must write nothing. Then
the floor (tests/bench/sync_floor.py) against a fresh emulator on the same fixture, and
ours against it. `--json` adds one JSON line with the numbers (bench_sync_curve reads it).
Not part of the test run (it measures speed). See docs/sync-speed.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from manager.logs import configure_logging

# Before the manager's modules bind their loggers: one log line per write would dominate.
configure_logging("text", "WARNING")

from manager.config import Config, parse_config  # noqa: E402
from manager.fullsync.engine import SyncOptions  # noqa: E402
from manager.fullsync.report import SyncReport  # noqa: E402
from manager.sync_command import run_standalone  # noqa: E402
from tests.bench.cpu_use import process_cpu, stolen, used_since  # noqa: E402
from tests.bench.floor_client import TRANSPORTS  # noqa: E402
from tests.bench.sync_changes import make_changes  # noqa: E402
from tests.bench.sync_fixture import write_fixture_in_child  # noqa: E402
from tests.bench.sync_floor import (  # noqa: E402
    DECODES,
    IN_FLIGHT,
    FloorResult,
    WriteMix,
    run_floor,
)
from tests.bench.sync_runs import PhaseTimer, Run, print_floor, print_report, ratio  # noqa: E402
from tests.fakeplex.generate import add_size_arguments  # noqa: E402
from tests.support.processes import emulator_process  # noqa: E402


def write_mixes(report: SyncReport) -> dict[str, WriteMix]:
    """Per server: our first sync's write requests, split as its change counts."""
    return {
        name: WriteMix.like(s.write_requests, s.watched, s.unwatched, s.resume)
        for name, s in report.servers.items()
    }


def plex_only(args: argparse.Namespace) -> bool:
    """The floor's bare client and the change maker speak Plex only."""
    return set(args.kinds.split(",")) == {"plex"}


def server_entry(described: dict[str, Any]) -> dict[str, Any]:
    """A server of the emulator's description as the config names it, for any kind."""
    if described.get("kind", "plex") == "plex":
        return {
            "name": described["name"],
            "url": described["url"],
            "token": described["owner_token"],
        }
    return {
        "name": described["name"],
        "kind": described["kind"],
        "url": described["url"],
        "api_key": described["api_key"],
    }


def timed_sync(
    title: str, config: Config, options: SyncOptions, servers_pid: int | None = None
) -> Run:
    """One sync, printed: its wall and CPU time, the servers' CPU time (the emulator's,
    process `servers_pid`) and the CPU stolen meanwhile."""
    timer = PhaseTimer()
    t0, c0, s0 = time.perf_counter(), time.process_time(), stolen()
    e0 = process_cpu(servers_pid)
    report, _ = asyncio.run(run_standalone(config, options, timer))
    end = time.perf_counter()
    run = Run(title, report, end - t0, time.process_time() - c0, stolen() - s0)
    run.servers_cpu = used_since(servers_pid, e0)
    print_report(run, timer, end)
    return run


def run_syncs(args: argparse.Namespace, path: Path, tmp: str) -> list[Run]:
    """Our full sync, then (unless --no-second) a second one, on one emulator."""
    runs: list[Run] = []
    started = time.perf_counter()
    with emulator_process(path) as describe:
        print(
            f"emulator up in {time.perf_counter() - started:.1f} s: "
            f"{len(describe['servers'])} servers, {args.users} users + admin, "
            f"{args.movies:,} movies + {args.shows * args.seasons * args.episodes:,} "
            f"episodes in the catalogue ({args.diverge:.0%} missing per server, "
            f"{args.diverge:.0%} of items with state per user and server)"
        )
        config = parse_config(
            {
                "servers": [server_entry(s) for s in describe["servers"]],
                "token": "bench-secret",
                "database": f"sqlite:///{Path(tmp) / 'bench.db'}",
                "plextv_url": describe["plextv_url"],
                "sync": {"concurrency": args.concurrency},
                "delivery": {
                    "per_peer": args.per_peer,
                    "concurrency": args.delivery_concurrency or 2 * args.per_peer,
                },
            },
            "bench",
            env={},
        )
        if args.memory:
            tracemalloc.start()
        for title in ("first sync", "second sync"):
            options = SyncOptions(concurrency=args.concurrency)
            runs.append(timed_sync(title, config, options, describe.get("pid")))
            if args.no_second:
                break
        if not args.no_second and args.changes > 0 and plex_only(args):
            # As many changes twice: once for a sync of changes only, once for a full one.
            for title, changed_only, seed in (("changes only", True, 7), ("full", False, 8)):
                made = make_changes(describe, args.changes, seed)
                print(f"then {made:,} changes made on the servers without a proxy (no event)")
                options = SyncOptions(concurrency=args.concurrency, changed_only=changed_only)
                runs.append(
                    timed_sync(f"sync after changes, {title}", config, options, describe.get("pid"))
                )
            quick, full = runs[-2], runs[-1]
            print(
                f"  after changes: changes only {quick.wall:.1f} s, full {full.wall:.1f} s "
                f"({ratio(quick.wall, full.wall)}); read requests "
                f"{sum(s.read_requests for s in quick.report.servers.values()):,} vs "
                f"{sum(s.read_requests for s in full.report.servers.values()):,}"
            )
    return runs


def main() -> int:
    ap = argparse.ArgumentParser()
    add_size_arguments(ap)
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--diverge", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=8, help="page requests per server, max")
    ap.add_argument("--per-peer", type=int, default=8, help="outbox deliveries per server, max")
    ap.add_argument(
        "--delivery-concurrency",
        type=int,
        default=0,
        help="outbox deliveries overall (0: 2x per-peer)",
    )
    ap.add_argument("--memory", action="store_true", help="tracemalloc peak (slower)")
    ap.add_argument("--no-second", action="store_true")
    ap.add_argument("--no-floor", action="store_true", help="skip the bare client's floor")
    ap.add_argument(
        "--changes",
        type=float,
        default=0.01,
        help="share of items each user changes after the second run, then a sync of changes "
        "only (0: none)",
    )
    ap.add_argument(
        "--floor-in-flight", type=int, default=IN_FLIGHT, help="floor requests per server"
    )
    ap.add_argument(
        "--floor-transport",
        type=_transports,
        default=["aiohttp", "httpx-aiohttp"],
        help="the floor's clients, each measured in turn (comma-separated): aiohttp's session, "
        "as the manager sends (aiohttp); httpx over it (httpx-aiohttp, the floor before "
        "2026-12-02); httpx's own (httpcore)",
    )
    ap.add_argument(
        "--floor-decode",
        choices=DECODES,
        default="typed",
        help="how the floor decodes the users' pages: as our reader (typed) or whole (orjson)",
    )
    ap.add_argument("--json", action="store_true", help="end with one JSON line of numbers")
    ap.add_argument(
        "--kinds",
        default="plex,plex,plex",
        help="the three servers' kinds, e.g. plex,jellyfin,emby (the floor: Plex only)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        started = time.perf_counter()
        write_fixture_in_child(path, args)
        print(f"fixture written in {time.perf_counter() - started:.1f} s (child process)")
        runs = run_syncs(args, path, tmp)
        # Before the floor runs in this process: the peak must be the manager's.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process {rss:.0f} MiB", end="")
        if args.memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f", tracemalloc peak {peak / 2**20:.0f} MiB", end="")
        print(flush=True)
        floors: dict[str, FloorResult] = {}
        if not args.no_floor and plex_only(args):
            mixes = write_mixes(runs[0].report)
            for transport in args.floor_transport:
                floor = run_floor(path, mixes, args.floor_in_flight, transport, args.floor_decode)
                print_floor(
                    floor, runs, mixes, f"{transport} client, {args.floor_decode} users' pages"
                )
                floors[transport] = floor
    if args.json:
        print(json.dumps(result_json(args, runs, rss, floors)))
    return 0


def _transports(text: str) -> list[str]:
    named = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(named) - TRANSPORTS.keys())
    if not named or unknown:
        raise argparse.ArgumentTypeError(
            f"not a floor client: {', '.join(unknown) or text!r} (one of {', '.join(TRANSPORTS)})"
        )
    return named


def _floor_json(transport: str, decode: str, floor: FloorResult) -> dict[str, Any]:
    return {
        "transport": transport,
        "decode": decode,
        "tokens_s": round(floor.tokens_s, 3),
        "read_s": round(floor.read_s, 3),
        "write_s": round(floor.write_s, 3),
        "total_s": round(floor.total_s, 3),
        "read_requests": sum(s.read_requests for s in floor.servers.values()),
        "write_requests": sum(s.write_requests for s in floor.servers.values()),
        "read_cpu_s": round(floor.read_cpu_s, 3),
        "write_cpu_s": round(floor.write_cpu_s, 3),
        "servers_cpu_s": None if floor.servers_cpu_s is None else round(floor.servers_cpu_s, 3),
    }


def result_json(
    args: argparse.Namespace, runs: list[Run], rss: float, floors: dict[str, FloorResult]
) -> dict[str, Any]:
    """The numbers; `floor`: the first floor client's, `floors`: every one's."""
    each = [_floor_json(t, args.floor_decode, f) for t, f in floors.items()]
    episodes = args.shows * args.seasons * args.episodes
    return {
        "items": args.movies + episodes,
        "movies": args.movies,
        "episodes": episodes,
        "users": args.users,
        "diverge": args.diverge,
        "first": runs[0].as_json(),
        "second": runs[1].as_json() if len(runs) > 1 else None,
        "changes_only": runs[2].as_json() if len(runs) > 3 else None,
        "full_after_changes": runs[3].as_json() if len(runs) > 3 else None,
        "rss_mib": round(rss, 1),
        "floor": each[0] if each else None,
        "floors": each,
    }


if __name__ == "__main__":
    sys.exit(main())
