"""`make demo` is the README's run command: it must really start the cluster and sync."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_scenario_syncs_every_server(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.demo", "--exit-after-scenario", "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = {
        tuple(line.split()[:2]): line.split()[2:5]
        for line in run.stdout.splitlines()
        if line.split()[:1] in (["admin"], ["alice"], ["bob"], ["kid"]) and "token" not in line
    }
    assert rows[("admin", "matrix")] == ["played", "played", "played"]
    assert rows[("alice", "inception")] == ["20:00", "20:00", "20:00"]
    assert rows[("kid", "office/s01e06")] == ["played", "played", "played"]
    assert rows[("bob", "arrival")] == ["played", "played", "-"]
    assert rows[("admin", "fast")] == ["played", "-", "-"]
    assert rows[("alice", "matrix")] == ["unplayed", "unplayed", "unplayed"]
    assert "Ctrl-C stops everything." in run.stdout
