"""Full-sync test helpers: one sync run, the database outside a run, recorded writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from manager.config import Config
from manager.fullsync.engine import SyncOptions
from manager.fullsync.plan import PlannedWrite
from manager.fullsync.report import Progress, SyncReport
from manager.store.runner import DbRunner
from manager.sync_command import run_standalone
from tests.fakeplex import Cluster

WRITE_PATHS = {"/:/scrobble": "scrobble", "/:/unscrobble": "unscrobble", "/:/timeline": "resume"}
T0 = 1_700_000_000


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
