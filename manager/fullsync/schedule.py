"""When `serve` runs full syncs: at start (`sync.on_start` / UPDATE_ON_START), then on the
cron schedule (`sync.schedule` / FULL_SYNC_SCHEDULE, through manager.cron); and syncs of
what changed since the last run on theirs (`sync.changed_schedule` / CHANGED_SYNC_SCHEDULE,
reason `CHANGES`), usually more often.

One at a time; real-time events keep flowing meanwhile (same loop). A sync that falls
due while another one runs (here, or elsewhere: `run` answers None when the lease is
held) waits and runs once it can; several falling due meanwhile make one. The caller says
how a sync is run, so this module knows nothing of the service around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

import schedule

from manager.config import SyncConfig
from manager.cron import CronError, schedule_cron
from manager.fullsync.report import SyncReport
from manager.logs import get_logger

log = get_logger("manager.fullsync")
SCHEDULER_TICK = 30.0

RunSync = Callable[[str], Awaitable[SyncReport | None]]  # reason → one sync; None: lease held
CHANGES = "changes"  # the reason of a sync of changes only


async def run_on_schedule(cfg: SyncConfig, run: RunSync) -> None:
    scheduler = schedule.Scheduler()
    due: list[str] = []
    running: asyncio.Task[SyncReport | None] | None = None
    running_reason = ""
    waiting: str | None = None  # a sync that fell due and has not run yet

    def start(reason: str) -> None:
        nonlocal running, running_reason, waiting
        if running is not None and not running.done():
            if waiting is None:
                log.info("sync_waiting", reason=reason, why="a full sync is running")
            if waiting is None or waiting == CHANGES:
                waiting = reason  # a full sync waiting covers the changes too
            return
        running_reason = reason
        running = asyncio.create_task(_call(run, reason), name=f"full-sync-{reason}")

    def settle() -> None:
        """A sync that found the lease held runs again once it can."""
        nonlocal running, waiting
        if running is None or not running.done():
            return
        held = not running.cancelled() and running.exception() is None and running.result() is None
        running = None
        if held and waiting is None:
            log.info("sync_waiting", reason=running_reason, why="another sync holds the lease")
            waiting = running_reason

    for cron, reason in ((cfg.schedule, "schedule"), (cfg.changed_schedule, CHANGES)):
        if not cron:
            continue
        try:
            schedule_cron(cron, functools.partial(due.append, reason), scheduler)
            log.info(
                "sync_scheduled", reason=reason, schedule=cron, next_run=str(scheduler.next_run)
            )
        except CronError as exc:
            log.error("sync_schedule_invalid", schedule=cron, error=str(exc))
    try:
        if cfg.on_start:
            start("on_start")
        while True:
            scheduler.run_pending()
            settle()
            if waiting is not None and running is None:
                reason, waiting = waiting, None
                start(reason)
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


async def _call(run: RunSync, reason: str) -> SyncReport | None:
    return await run(reason)
