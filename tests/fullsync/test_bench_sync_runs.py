"""`make bench BENCH=sync` runs to its end, at a tiny size.

The benchmark is not part of the test run (it measures speed), so nothing else notices
when a change breaks one of its phases: it once stopped with a TypeError after its second
sync. Here every phase runs once, in a subprocess as `make bench` runs it, and what the
numbers rest on is checked: the second sync writes nothing, the floor read the pages ours
read and made as many writes, and the servers' CPU time beside each (what bounds a ratio
on a machine of two CPUs) was read.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import ROOT, clean_env


def test_every_phase_runs_and_the_floor_did_our_work() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_sync",
            *("--movies", "40", "--shows", "2", "--users", "2", "--changes", "0.2", "--json"),
        ],
        cwd=ROOT,
        env=clean_env(),  # as the curve runs it: none of our own settings from outside
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second, floor = result["first"], result["second"], result["floor"]
    assert first["ok"] and second["ok"]
    assert first["changes"] > 0 and second["changes"] == 0
    assert result["changes_only"] is not None and result["full_after_changes"] is not None
    assert [f["transport"] for f in result["floors"]] == ["aiohttp", "httpx-aiohttp"]
    assert floor == result["floors"][0]
    for each in result["floors"]:  # every floor client did our sync's work
        assert each["read_requests"] == first["reads"]
        assert each["write_requests"] == first["writes"]
    assert done.stdout.count("ours/floor") == 2 * len(result["floors"])
    # The emulator's CPU time was read for each run (a second run's, at this size, is a
    # few clock ticks) and each floor; the first run's 350 writes and more take some.
    for run in (second, result["changes_only"], result["full_after_changes"]):
        assert run["servers_cpu_s"] is not None and run["servers_cpu_s"] >= 0
    for run in (first, *result["floors"]):
        assert run["servers_cpu_s"] > 0
    assert done.stdout.count("both processes' CPU") == 2 * len(result["floors"])
