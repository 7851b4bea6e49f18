"""`plex-cluster-manager sync` as a real subprocess against the emulated demo cluster."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fakeplex import Cluster
from tests.fullsync.helpers import clear_requests, recorded_writes
from tests.fullsync.test_fullsync import assert_expected, diverge
from tests.support.configs import write_config
from tests.support.processes import ROOT, clean_env, free_port

PLAN = re.compile(r"^plan: (\S+): (\S+): (played|unplayed|resume)\b.*\[(\d+)\]$")
# The request a planned change becomes on a Plex server (what the emulator records).
REQUEST = {"played": "scrobble", "unplayed": "unscrobble", "resume": "resume"}


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manager", "sync", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=str(ROOT),
        timeout=60,
    )


def test_cli_dry_run_lists_what_the_real_run_writes(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    config = write_config(demo_cluster, tmp_path, free_port())

    dry = cli(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert recorded_writes(demo_cluster) == []
    planned = {
        (server, user, REQUEST[change], key)
        for line in dry.stdout.splitlines()
        if (m := PLAN.match(line))
        for server, user, change, key in [m.groups()]
    }
    assert len(planned) >= 8, dry.stdout
    assert "dry run: nothing written" in dry.stdout
    assert "token" not in dry.stdout.lower()

    real = cli(config)
    assert real.returncode == 0, real.stderr[-2000:]
    written = set(recorded_writes(demo_cluster))
    assert written == planned
    assert re.search(r"^alpha\s+\d+\s+7\s+0\s+2\s+0\s+0$", real.stdout, re.M), real.stdout
    assert not PLAN.search(real.stdout)
    assert_expected(demo_cluster)

    clear_requests(demo_cluster)
    again = cli(config)
    assert again.returncode == 0, again.stderr[-2000:]
    assert recorded_writes(demo_cluster) == []
    assert re.search(r"^gamma\s+\d+\s+0\s+0\s+0\s+0\s+0$", again.stdout, re.M), again.stdout


def test_cli_reports_a_down_server_and_bad_arguments(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    config = write_config(demo_cluster, tmp_path, free_port())
    demo_cluster.servers["beta"].go_down()
    result = cli(config, "--user", "alice", "--only", "watched")
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert re.search(r"^beta\s+0\s+0\s+0\s+0\s+0\s+1$", result.stdout, re.M), result.stdout
    assert "! not read:" in result.stdout
    writes = recorded_writes(demo_cluster)
    assert writes and all(w[1] == "alice" and w[2] == "scrobble" for w in writes)

    bad = cli(config, "--server", "nosuch")
    assert bad.returncode == 2 and "unknown server" in bad.stderr
    bad = cli(config, "--user", "nobody", "--dry-run")
    assert bad.returncode == 2 and "unknown user" in bad.stderr
