"""Full syncs inside `serve`: scheduled, at start, or a catch-up limited to one peer.

They share the service's database, outbox, servers and user directory; `servers` and
`users` limit a run as `sync --server` / `--user` do.
"""

from __future__ import annotations

from collections.abc import Sequence

from manager.fullsync.engine import SyncBusy, SyncOptions
from manager.fullsync.report import LogProgress, SyncReport
from manager.fullsync.schedule import CHANGES
from manager.logs import get_logger
from manager.runtime import Runtime
from manager.store import lease

log = get_logger("manager.fullsync")


async def run_sync(
    runtime: Runtime, reason: str, servers: Sequence[str] = (), users: Sequence[str] = ()
) -> SyncReport | None:
    """One sync; None when another sync holds the lease."""
    holder = await runtime.runner.run(lease.holder)
    if holder is not None:  # a cheap look first: no user refresh for a sync that waits
        log.info("sync_skipped", reason=reason, why=f"another full sync is running ({holder})")
        return None
    await runtime.refresh_users("sync_users_refresh_failed")
    options = SyncOptions(
        concurrency=runtime.config.sync.concurrency,
        reason=reason,
        changed_only=reason == CHANGES,
        servers=tuple(servers),
        users=tuple(users),
    )
    sync = runtime.full_sync(options, LogProgress())
    try:
        return await sync.run()
    except SyncBusy as exc:
        log.info("sync_skipped", reason=reason, why=str(exc))
        return None
