"""The full-sync benchmark at several library sizes: does time grow no faster than items?

    .venv/bin/python -m tests.bench.bench_sync_curve [--points 10000x5,20000x20]
                                                      [--floor] [--json]

Each point runs `python -m tests.bench.bench_sync --json` in its own process (one at a
time: the emulator and the manager share the machine), so every point starts cold and its
peak RSS is that point's manager alone. Items are the catalogue's per-server size, half
movies and half episodes (shows of 2 seasons × 50 episodes); each server lacks
`--diverge` of them. The floor is skipped unless `--floor` (it roughly doubles the time).
The benchmark's own output goes to stderr as it runs; the table (and with `--json` one
JSON line per point) to stdout at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from tests.support.processes import ROOT, clean_env

SEASONS, EPISODES = 2, 50
DEFAULT_POINTS = "10000x5,20000x5,50000x5,100000x5,20000x20"


@dataclass(frozen=True)
class Point:
    items: int
    users: int

    @property
    def movies(self) -> int:
        return self.items // 2

    @property
    def shows(self) -> int:
        return (self.items - self.movies) // (SEASONS * EPISODES)

    def argv(self, floor: bool, diverge: float) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "tests.bench.bench_sync",
            "--movies",
            str(self.movies),
            "--shows",
            str(self.shows),
            "--seasons",
            str(SEASONS),
            "--episodes",
            str(EPISODES),
            "--users",
            str(self.users),
            "--diverge",
            str(diverge),
            "--changes",
            "0",  # the curve is of full syncs; the changes-only runs are bench_sync's own
            "--json",
        ]
        # One floor client per point (the manager's way of sending): the curve's ratio.
        return [*argv, "--floor-transport", "aiohttp"] if floor else [*argv, "--no-floor"]


def parse_points(text: str) -> list[Point]:
    """Points from `ITEMSxUSERS,…` (e.g. 10000x5,20000x20); a bare 50000 means 5 users."""
    out = []
    for part in text.split(","):
        items, _, users = part.strip().lower().partition("x")
        out.append(Point(int(items.replace("_", "")), int(users or 5)))
    return out


def run_point(point: Point, floor: bool, diverge: float) -> dict[str, Any]:
    """One benchmark process; its output echoed to stderr, its JSON line returned."""
    proc = subprocess.Popen(
        point.argv(floor, diverge),
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env=clean_env(),
    )
    assert proc.stdout is not None
    found: dict[str, Any] | None = None
    for line in proc.stdout:
        if line.startswith("{"):
            found = json.loads(line)
        else:
            print(f"  [{point.items}x{point.users}] {line}", end="", file=sys.stderr, flush=True)
    code = proc.wait()
    if code != 0 or found is None:
        raise RuntimeError(f"bench_sync for {point} exited with {code}")
    return found


def per_thousand(seconds: float, items: int) -> str:
    return f"{seconds / (items / 1000):.2f}"


def table(results: list[dict[str, Any]]) -> str:
    head = [
        "items",
        "users",
        "1st wall s",
        "1st requests",
        "2nd wall s",
        "2nd requests",
        "RSS MiB",
        "1st s/1k items",
        "2nd s/1k items",
    ]
    if any(r.get("floor") for r in results):
        head += ["floor s", "1st/floor", "read floor s", "2nd/read floor"]
    rows = [head]
    for r in results:
        first, second, floor = r["first"], r.get("second"), r.get("floor")
        row = [
            f"{r['items']:,}",
            str(r["users"]),
            f"{first['wall_s']:.1f}",
            f"{first['requests']:,}",
            f"{second['wall_s']:.1f}" if second else "-",
            f"{second['requests']:,}" if second else "-",
            f"{r['rss_mib']:.0f}",
            per_thousand(first["wall_s"], r["items"]),
            per_thousand(second["wall_s"], r["items"]) if second else "-",
        ]
        if len(head) > len(row):
            if floor:
                row += [
                    f"{floor['total_s']:.1f}",
                    f"{first['wall_s'] / floor['total_s']:.1f}x",
                    f"{floor['read_s']:.1f}",
                    f"{second['wall_s'] / floor['read_s']:.1f}x" if second else "-",
                ]
            else:
                row += ["-"] * 4
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.bench_sync_curve")
    ap.add_argument(
        "--points",
        default=DEFAULT_POINTS,
        help=f"ITEMSxUSERS,… (default {DEFAULT_POINTS})",
    )
    ap.add_argument("--floor", action="store_true", help="also measure the floor per point")
    ap.add_argument("--diverge", type=float, default=0.1)
    ap.add_argument("--json", action="store_true", help="one JSON line per point as well")
    args = ap.parse_args(argv)
    points = parse_points(args.points)
    results = []
    failed = 0
    for n, point in enumerate(points, 1):
        print(
            f"point {n}/{len(points)}: {point.items:,} items ({point.movies:,} movies + "
            f"{point.shows} shows), {point.users} users",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        try:
            result = run_point(point, args.floor, args.diverge)
        except RuntimeError as exc:  # the other points are still worth their hours
            print(f"point {n}: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        result["point_s"] = round(time.perf_counter() - started, 1)  # fixture, emulators too
        results.append(result)
    if results:
        print(table(results))
    if args.json:
        for result in results:
            print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
