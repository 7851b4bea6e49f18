"""export → wipe a server in the emulator → import → the same state again, with the real
CLI as a subprocess over the emulated mixed cluster (Plex, Jellyfin, Emby)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakeplex import Cluster, start_cluster
from tests.support.configs import write_config
from tests.support.mixed_world import USER_MAP
from tests.support.processes import ROOT, clean_env, free_port

T0 = 1_700_000_000
MOVIES = ("matrix", "inception", "arrival", "heat", "short")
EPISODES = tuple(f"office/s01e{n:02d}" for n in range(1, 7)) + tuple(
    f"office/s02e{n:02d}" for n in range(1, 5)
) + tuple(f"dark/s01e{n:02d}" for n in range(1, 5))  # fmt: skip
USERS = ("admin", "alice", "bob")


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manager", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=str(ROOT),
        timeout=90,
    )


def keys_on(cluster: Cluster, server: str) -> list[str]:
    out = []
    for key in (*MOVIES, *EPISODES):
        try:
            cluster.item_id(server, key)
        except KeyError:
            continue
        out.append(key)
    return out


def held(cluster: Cluster, server: str) -> dict[tuple[str, str], tuple[bool, int]]:
    """Every user's (played, position) of every title on that server, where they have one."""
    out = {}
    for user in USERS:
        for key in keys_on(cluster, server):
            try:
                st = cluster.state(server, user, key)
            except (KeyError, LookupError):
                continue  # the user cannot use that server
            if st["played"] or st["position_ms"]:
                out[(user, key)] = (st["played"], st["position_ms"] // 1000)
    return out


def states(document: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], tuple[bool, int]]:
    return {
        (user["name"], tuple(item["ids"])): (item["watched"], (item["resume_ms"] or 0) // 1000)
        for user in document["users"]
        for item in user["items"]
    }


def diverge(cluster: Cluster) -> None:
    cluster.set_state("plex", "alice", "matrix", played=True, last_played_at=T0)
    cluster.set_state("jelly", "alice", "inception", position_ms=1_200_000, last_played_at=T0 + 5)
    cluster.set_state("emby", "alice", "office/s01e01", played=True, last_played_at=T0 + 10)
    cluster.set_state("plex", "alice", "office/s01e02", position_ms=600_000, last_played_at=T0)
    cluster.set_state("plex", "admin", "short", played=True, last_played_at=T0)
    cluster.set_state("jelly", "admin", "dark/s01e01", position_ms=900_000, last_played_at=T0)
    cluster.set_state("emby", "admin", "matrix", position_ms=3_000_000, last_played_at=T0 + 1)
    cluster.set_state("emby", "bob", "heat", played=True, last_played_at=T0)


def test_export_wipe_import_round_trip(tmp_path: Path) -> None:
    with start_cluster("mixed") as cluster:
        diverge(cluster)
        config = write_config(cluster, tmp_path, free_port(), users=USER_MAP)
        synced = cli(config, "sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr[-2000:]

        exported = cli(config, "export")
        assert exported.returncode == 0, exported.stderr[-2000:]
        first = json.loads(exported.stdout)
        assert first["format"] == "plex-cluster-state" and first["version"] == 1
        assert "Export: 3 users" in exported.stderr
        assert "token" not in exported.stdout.lower()
        by_user = {u["name"]: u for u in first["users"]}
        matrix = next(i for i in by_user["alice"]["items"] if i["title"] == "The Matrix")
        assert matrix["watched"] and "imdb://tt0133093" in matrix["ids"]
        pilot = next(i for i in by_user["alice"]["items"] if i.get("episode") == 1)
        assert pilot["show"]["title"] == "The Office (US)" and pilot["season"] == 1
        assert "tvdb://73244" in pilot["show"]["ids"]
        state_file = tmp_path / "state.json"
        state_file.write_text(exported.stdout)

        before = held(cluster, "jelly")
        assert len(before) >= 5, before
        for user in USERS:
            for key in keys_on(cluster, "jelly"):
                try:
                    cluster.set_state("jelly", user, key, played=False, position_ms=0)
                except (KeyError, LookupError):
                    continue
        assert held(cluster, "jelly") == {}

        # A rebuilt manager: a new database, so the file is the only evidence there is.
        rebuilt = tmp_path / "rebuilt"
        rebuilt.mkdir()
        config = write_config(cluster, rebuilt, free_port(), users=USER_MAP)
        for server in cluster.servers.values():
            server.clear_requests()
        dry = cli(config, "import", str(state_file), "--server", "jelly", "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr[-2000:]
        writes = [r for s in cluster.servers.values() for r in s.requests if r.method != "GET"]
        assert writes == [], [(r.method, r.path) for r in writes]
        assert "dry run: nothing written" in dry.stdout
        assert dry.stdout.count("plan: jelly: ") == len(before), dry.stdout
        assert held(cluster, "jelly") == {}

        done = cli(config, "import", str(state_file), "--server", "jelly")
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
        assert "Import" in done.stdout and "jelly" in done.stdout
        assert held(cluster, "jelly") == before

        again = cli(config, "export")
        assert again.returncode == 0, again.stderr[-2000:]
        assert states(json.loads(again.stdout)) == states(first)

        # A second import finds everything in place: nothing written.
        for server in cluster.servers.values():
            server.clear_requests()
        twice = cli(config, "import", str(state_file), "--server", "jelly")
        assert twice.returncode == 0, twice.stdout + twice.stderr[-2000:]
        writes = [r for s in cluster.servers.values() for r in s.requests if r.method != "GET"]
        assert writes == [], [(r.method, r.path) for r in writes]
