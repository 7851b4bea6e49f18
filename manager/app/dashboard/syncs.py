"""The full-sync page's two buttons: a dry-run preview, and a real run.

Both run in the background (a sync reads every library: seconds to minutes), so a click
answers at once and the page shows progress until the result is there. A preview is the
CLI's `sync --dry-run` (it writes nothing and takes no lease); a real run is what the
schedule runs (app/syncs.py), with the lease that keeps it the only one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from manager.app.syncs import run_sync
from manager.fullsync.engine import SyncOptions
from manager.fullsync.plan import PlannedWrite
from manager.fullsync.report import SyncReport
from manager.logs import get_logger
from manager.runtime import Runtime

log = get_logger("manager.dashboard")

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]
PREVIEW_ROWS = 500  # rows of a preview kept for the page; the summary counts them all


@dataclass
class Preview:
    started_at: float
    finished_at: float | None = None
    report: SyncReport | None = None
    rows: list[tuple[str, PlannedWrite]] = field(default_factory=list)
    total: int = 0
    error: str | None = None


class SyncControl:
    def __init__(self, runtime: Runtime, spawn: Spawn) -> None:
        self.runtime = runtime
        self._spawn = spawn
        self.preview: Preview | None = None
        self.run_started_at: float | None = None  # a real run started here, still going
        self.last_refusal: str | None = None

    @property
    def previewing(self) -> bool:
        return self.preview is not None and self.preview.finished_at is None

    def start_preview(self) -> bool:
        if self.previewing:
            return False
        self.preview = Preview(started_at=time.time())
        self._spawn(self._preview(self.preview), "dashboard-preview")
        return True

    def start_run(self) -> bool:
        if self.run_started_at is not None:
            return False
        self.run_started_at = time.time()
        self.last_refusal = None
        self._spawn(self._run(), "dashboard-sync")
        return True

    async def _preview(self, preview: Preview) -> None:
        runtime = self.runtime
        try:
            await runtime.refresh_users("sync_users_refresh_failed")
            options = SyncOptions(
                dry_run=True, concurrency=runtime.config.sync.concurrency, reason="preview"
            )
            sync = runtime.full_sync(options, writes=False)
            preview.report = await sync.run()
            preview.total = len(sync.planned)
            preview.rows = sorted(
                sync.planned[:PREVIEW_ROWS], key=lambda r: (r[1].server, r[0], r[1].title)
            )
            preview.error = preview.report.error
        except Exception as exc:  # shown on the page; the manager goes on
            log.exception("dashboard_preview_failed")
            preview.error = f"{type(exc).__name__}: {exc}"
        finally:
            preview.finished_at = time.time()

    async def _run(self) -> None:
        try:
            log.info("sync_requested", by="dashboard")
            report = await run_sync(self.runtime, "dashboard")
            if report is None:
                self.last_refusal = "another full sync was running: try again once it is done"
        finally:
            self.run_started_at = None
