"""`make demo` is the README's run command: it must really start the cluster and sync."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.demo",
            "--exit-after-scenario",
            "--workdir",
            str(tmp_path),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )


def rows_of(run: subprocess.CompletedProcess[str]) -> dict[tuple[str, ...], list[str]]:
    """The closing table: (user, item) -> the state on each server, in config order."""
    return {
        tuple(line.split()[:2]): line.split()[2:5]
        for line in run.stdout.splitlines()
        if line.split()[:1] in (["admin"], ["alice"], ["bob"], ["kid"]) and "token" not in line
    }


def test_mixed_demo_goes_plex_jellyfin_emby_plex(tmp_path: Path) -> None:
    run = demo(tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = rows_of(run)  # columns: plex, jelly (jellyfin), emby
    assert rows[("alice", "matrix")] == ["played", "played", "played"]
    assert rows[("admin", "matrix")] == ["20:00", "20:00", "20:00"]
    assert rows[("alice", "office/s01e02")] == ["played", "played", "played"]
    assert rows[("admin", "office/s01e03")] == ["unplayed", "unplayed", "unplayed"]
    assert rows[("bob", "arrival")] == ["played", "-", "played"]
    assert rows[("alice", "inception")] == ["played", "played", "-"]
    # The scenario moved the manager's metrics (read with prometheus-client's parser).
    metrics = next(line for line in run.stdout.splitlines() if line.startswith("GET /metrics"))
    events = re.search(r"proxy (\d+)", metrics)
    delivered = re.search(r"delivered (\d+)", metrics)
    assert events and int(events.group(1)) >= 6, metrics
    assert delivered and int(delivered.group(1)) >= 8, metrics
    assert "Ctrl-C stops everything." in run.stdout


def test_plex_demo_scenario_syncs_every_server(tmp_path: Path) -> None:
    run = demo(tmp_path, "--world", "plex")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = rows_of(run)
    assert rows[("admin", "matrix")] == ["played", "played", "played"]
    assert rows[("alice", "inception")] == ["20:00", "20:00", "20:00"]
    assert rows[("kid", "office/s01e06")] == ["played", "played", "played"]
    assert rows[("bob", "arrival")] == ["played", "played", "-"]
    assert rows[("admin", "fast")] == ["played", "-", "-"]
    assert rows[("alice", "matrix")] == ["unplayed", "unplayed", "unplayed"]
    assert "Ctrl-C stops everything." in run.stdout
