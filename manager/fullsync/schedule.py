"""When `serve` runs full syncs: at start (`sync.on_start` / UPDATE_ON_START), then on the
cron schedule (`sync.schedule` / FULL_SYNC_SCHEDULE, through manager.cron).

One at a time; real-time events keep flowing meanwhile (same loop). The caller says how a
sync is run, so this module knows nothing of the service around it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import schedule

from manager.config import SyncConfig
from manager.cron import CronError, schedule_cron
from manager.logs import get_logger

log = get_logger("manager.fullsync")
SCHEDULER_TICK = 30.0

RunSync = Callable[[str], Awaitable[Any]]  # reason → one sync


async def run_on_schedule(cfg: SyncConfig, run: RunSync) -> None:
    scheduler = schedule.Scheduler()
    due: list[str] = []
    running: asyncio.Task[Any] | None = None

    def start(reason: str) -> None:
        nonlocal running
        if running is not None and not running.done():
            log.info("sync_skipped", reason=reason, why="a full sync is already running")
            return
        running = asyncio.create_task(_call(run, reason), name=f"full-sync-{reason}")

    if cfg.schedule:
        try:
            schedule_cron(cfg.schedule, lambda: due.append("schedule"), scheduler)
            log.info("sync_scheduled", schedule=cfg.schedule, next_run=str(scheduler.next_run))
        except CronError as exc:
            log.error("sync_schedule_invalid", schedule=cfg.schedule, error=str(exc))
    try:
        if cfg.on_start:
            start("on_start")
        while True:
            scheduler.run_pending()
            while due:
                start(due.pop())
            idle = scheduler.idle_seconds
            await asyncio.sleep(
                SCHEDULER_TICK if idle is None else min(SCHEDULER_TICK, max(0.5, idle))
            )
    finally:
        if running is not None and not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running


async def _call(run: RunSync, reason: str) -> Any:
    return await run(reason)
