"""A full sync's run in the benchmark: its numbers, and how they and the floor's are
printed (bench_sync.py runs them, sync_floor.py measures the floor)."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from manager.fullsync.report import Progress, SyncReport
from tests.bench.cpu_use import cpus, least_wall
from tests.bench.sync_floor import FloorResult, WriteMix


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


@dataclass
class Run:
    title: str
    report: SyncReport
    wall: float
    cpu: float = 0.0  # this process's CPU time (all its threads) during the run
    steal: float = 0.0  # CPU time the machine's host took from its virtual CPUs meanwhile
    servers_cpu: float | None = None  # the emulator's CPU time meanwhile (None: unknown)

    def requests(self) -> dict[str, int]:
        servers = self.report.servers.values()
        return {
            "reads": sum(s.read_requests for s in servers),
            "writes": sum(s.write_requests for s in servers),
            "other": sum(s.other_requests for s in servers),
        }

    def as_json(self) -> dict[str, Any]:
        counts = self.requests()
        return {
            "wall_s": round(self.wall, 3),
            "cpu_s": round(self.cpu, 3),
            "steal_s": round(self.steal, 3),
            "servers_cpu_s": None if self.servers_cpu is None else round(self.servers_cpu, 3),
            "requests": sum(counts.values()),
            **counts,
            "groups": self.report.groups,
            "changes": self.report.changes,
            "ok": self.report.ok,
        }


def print_report(run: Run, timer: PhaseTimer, end: float) -> None:
    report, wall = run.report, run.wall
    compared = sum(s.compared for s in report.servers.values())
    print(
        f"{run.title}: {wall:.1f} s wall ({timer.durations(end)}), {run.cpu:.1f} s CPU "
        f"(the servers' {_s(run.servers_cpu)}), {run.steal:.1f} s stolen from the machine's "
        f"CPUs, ok={report.ok}"
    )
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


def ratio(ours: float, floor: float) -> str:
    return f"{ours / floor:.1f}x" if floor > 0 else "n/a"


def _s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.1f} s"


def _fit(run: Run, floor_s: float) -> str:
    """The least wall time the run's CPU (ours and the servers') fits in on this
    machine's CPUs, and the servers' own (one process, one CPU at a time), against the
    floor: no scheduling of the same work beats it."""
    if run.servers_cpu is None:
        return ""
    both, n_cpus = run.cpu + run.servers_cpu, cpus()
    least = least_wall(both, n_cpus, run.servers_cpu)
    return (
        f"; both processes' CPU {both:.1f} s on {n_cpus} CPUs: at least {least:.1f} s "
        f"= {ratio(least, floor_s)} the floor"
    )


def print_floor(
    floor: FloorResult, runs: list[Run], mixes: dict[str, WriteMix], stack: str
) -> None:
    reads = sum(s.read_requests for s in floor.servers.values())
    writes = sum(s.write_requests for s in floor.servers.values())
    kinds = {f.name: sum(getattr(m, f.name) for m in mixes.values()) for f in fields(WriteMix)}
    print(
        f"floor (fresh emulator, same fixture, {stack}): "
        f"tokens {floor.tokens_s:.2f} s, "
        f"reads {floor.read_s:.1f} s ({reads} requests, client CPU {floor.read_cpu_s:.1f} s), "
        f"writes {floor.write_s:.1f} s ({writes} requests: "
        + ", ".join(f"{n} {k}" for k, n in kinds.items())
        + f"; client CPU {floor.write_cpu_s:.1f} s)"
    )
    ours = runs[0].report.servers
    for name, s in floor.servers.items():
        mine = ours.get(name)
        mark = ""
        if mine is not None and mine.read_requests != s.read_requests:
            mark = "  <- not the pages our sync read"  # the floor is no longer like for like
        print(
            f"  {name}: listings {s.users}, reads {s.read_requests} requests "
            f"(ours {mine.read_requests if mine else '?'}), writes {s.write_requests} "
            f"(ours {mine.write_requests if mine else '?'}), items listed {s.items_listed:,}" + mark
        )
    first = runs[0]
    floor_cpu = floor.read_cpu_s + floor.write_cpu_s
    print(
        f"first run:  floor read {floor.read_s:.1f} s + write {floor.write_s:.1f} s "
        f"= {floor.total_s:.1f} s; ours {first.wall:.1f} s; "
        f"ours/floor {ratio(first.wall, floor.total_s)} "
        f"(CPU: ours {first.cpu:.1f} s, the floor's client {floor_cpu:.1f} s; the servers' "
        f"{_s(first.servers_cpu)} and {_s(floor.servers_cpu_s)}{_fit(first, floor.total_s)})"
    )
    if len(runs) > 1:
        second = runs[1]
        print(
            f"second run: read floor {floor.read_s:.1f} s; ours {second.wall:.1f} s; "
            f"ours/floor {ratio(second.wall, floor.read_s)} "
            f"(CPU: ours {second.cpu:.1f} s, the floor's client {floor.read_cpu_s:.1f} s; the "
            f"servers' {_s(second.servers_cpu)} and {_s(floor.servers_read_cpu_s)}"
            f"{_fit(second, floor.read_s)})"
        )
