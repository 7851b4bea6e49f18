"""Full-sync test helpers: config for an emulated cluster, one sync run, recorded writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manager.config import Config, load_config
from manager.fullsync.engine import SyncOptions
from manager.fullsync.plan import PlannedWrite
from manager.fullsync.report import Progress, SyncReport
from manager.store.db import DbRunner
from manager.sync_command import run_standalone
from tests.fakeplex import Cluster
from tests.manager.harness import write_config
from tests.support.processes import free_port

WRITE_PATHS = {"/:/scrobble": "scrobble", "/:/unscrobble": "unscrobble", "/:/timeline": "resume"}
T0 = 1_700_000_000


def sync_config(cluster: Cluster, workdir: Path, **overrides: Any) -> Config:
    return load_config(write_config(cluster, workdir, free_port(), **overrides))


def db_call[T](config: Config, fn: Callable[..., T], *args: Any) -> T:
    """One call on the manager's database outside a sync run (its own runner, closed)."""
    runner = DbRunner(config.database)
    try:
        return runner.call(fn, *args)
    finally:
        runner.close()


def run_sync(
    config: Config, progress: Progress | None = None, **options: Any
) -> tuple[SyncReport, list[tuple[str, PlannedWrite]]]:
    opts = SyncOptions(concurrency=config.sync.concurrency, **options)
    return asyncio.run(run_standalone(config, opts, progress))


def _user_of(server: Any, token: str | None) -> str:
    for name, tok in server.user_tokens.items():
        if tok == token:
            return str(name)
    return "?"


def recorded_writes(cluster: Cluster) -> list[tuple[str, str, str, str]]:
    """(server, user, action, ratingKey) of every write request the emulator received."""
    out = []
    for server in cluster.servers.values():
        for r in server.requests:
            action = WRITE_PATHS.get(r.path.rstrip("/") if r.path != "/" else r.path)
            if action is None:
                continue
            key = r.query.get("ratingKey") or r.query.get("key") or ""
            out.append((server.name, _user_of(server, r.token), action, key))
    return out


def clear_requests(cluster: Cluster) -> None:
    for server in cluster.servers.values():
        server.clear_requests()


def state(cluster: Cluster, server: str, user: str, title: str) -> tuple[bool, int]:
    """(watched, resume point ms) of a movie or show, as the user sees it on that server."""
    srv = cluster.servers[server]
    st = srv.state(user, srv.find_key(title=title))
    if "leaf_count" in st:
        return st["viewed_leaf_count"] == st["leaf_count"], 0
    return st["view_count"] > 0, st["view_offset"]


def episode_state(cluster: Cluster, server: str, user: str, catalog: str) -> tuple[bool, int]:
    srv = cluster.servers[server]
    st = srv.state(user, srv.find_key(catalog=catalog))
    return st["view_count"] > 0, st["view_offset"]
