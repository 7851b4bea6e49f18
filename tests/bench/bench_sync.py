"""Benchmark: one full sync of 3 emulated servers × ~20 000 items × 5 users (+ the admin).

    .venv/bin/python -m tests.bench.bench_sync [--movies N --shows S --episodes E
                                                --diverge 0.1 --memory --no-second]

The emulator runs in its own process (so the numbers here are the manager's alone); the
database is a real SQLite file in a temporary directory; writes go through the real
outbox. Prints wall time per phase, requests per server (library reads vs writes), items
compared per second and peak memory; then a second sync, which must write nothing.
Not part of the test run (it measures speed).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from manager.logs import configure_logging

# Before the manager's modules bind their loggers: one log line per write would dominate.
configure_logging("text", "WARNING")

from manager.config import parse_config  # noqa: E402
from manager.fullsync.engine import SyncOptions  # noqa: E402
from manager.fullsync.report import Progress, SyncReport  # noqa: E402
from manager.sync_command import run_standalone  # noqa: E402
from tests.fakeplex.generate import add_size_arguments, big_fixture, sizes_from  # noqa: E402
from tests.support.processes import emulator_process  # noqa: E402


class PhaseTimer(Progress):
    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[str, float]] = []

    def start(self, phase: str, total: int = 0, detail: str = "") -> None:
        self.marks.append((phase, time.perf_counter()))
        super().start(phase, total, detail)

    def durations(self, end: float) -> str:
        out = []
        for n, (phase, at) in enumerate(self.marks):
            until = self.marks[n + 1][1] if n + 1 < len(self.marks) else end
            out.append(f"{phase} {until - at:.1f}s")
        return ", ".join(out)


def print_report(
    title: str, report: SyncReport, wall: float, timer: PhaseTimer, end: float
) -> None:
    compared = sum(s.compared for s in report.servers.values())
    print(f"{title}: {wall:.1f} s wall ({timer.durations(end)}), ok={report.ok}")
    print(
        f"  users {len(report.users)}, item groups {report.groups:,}, "
        f"(user, item) pairs compared {compared:,} = {compared / wall:,.0f} items/s, "
        f"changes queued {report.changes:,}"
    )
    for name, s in report.servers.items():
        print(
            f"  {name}: reads {s.read_requests} requests, writes {s.write_requests}, "
            f"other {s.other_requests}; compared {s.compared:,}, watched {s.watched:,}, "
            f"unwatched {s.unwatched:,}, resume {s.resume:,}, skipped {s.skipped:,}, "
            f"failed {s.failed:,}"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    add_size_arguments(ap)
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--diverge", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=2, help="page requests per server")
    ap.add_argument("--per-peer", type=int, default=4, help="outbox deliveries per server")
    ap.add_argument("--memory", action="store_true", help="tracemalloc peak (slower)")
    ap.add_argument("--no-second", action="store_true")
    args = ap.parse_args()
    fixture = big_fixture(servers=3, users=args.users, diverge=args.diverge, **sizes_from(args))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(yaml.safe_dump(fixture))
        del fixture
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
                    "servers": [
                        {"name": s["name"], "url": s["url"], "token": s["owner_token"]}
                        for s in describe["servers"]
                    ],
                    "token": "bench-secret",
                    "database": f"sqlite:///{Path(tmp) / 'bench.db'}",
                    "plextv_url": describe["plextv_url"],
                    "sync": {"concurrency": args.concurrency},
                    "delivery": {"per_peer": args.per_peer, "concurrency": 2 * args.per_peer},
                },
                "bench",
                env={},
            )
            if args.memory:
                tracemalloc.start()
            for title in ("first sync", "second sync"):
                timer = PhaseTimer()
                t0 = time.perf_counter()
                report, _ = asyncio.run(
                    run_standalone(config, SyncOptions(concurrency=args.concurrency), timer)
                )
                end = time.perf_counter()
                print_report(title, report, end - t0, timer, end)
                if args.no_second:
                    break
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of this process {rss:.0f} MiB", end="")
            if args.memory:
                _, peak = tracemalloc.get_traced_memory()
                print(f", tracemalloc peak {peak / 2**20:.0f} MiB", end="")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
