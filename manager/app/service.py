"""`serve`: the runtime put to work: receiver, event worker, outbox, server watch, schedule.

Start-up order: open the runtime (database first), start listening (events are stored
durably from the first second), probe every server, load the user directory, build the
library indexes, then process events and deliver the outbox. A server that is down at
start is retried in the background (watch.py); its peers keep syncing meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

from manager.app import status as status_mod
from manager.app.dashboard import Dashboard
from manager.app.events import EventWorker
from manager.app.metrics import Metrics, mount
from manager.app.receiver import Accepted, Receiver
from manager.app.syncs import run_sync
from manager.app.watch import ServerWatch
from manager.app.webhooks import WebhookDoor
from manager.config import Config
from manager.event import PlaybackEvent
from manager.fullsync.schedule import run_on_schedule
from manager.logs import get_logger
from manager.runtime import Runtime

log = get_logger("manager.service")


class Service:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.started_at = time.time()
        self.events = EventWorker(runtime.runner, runtime.handler)
        self.watch = ServerWatch(runtime)
        webhooks = WebhookDoor(self.config.servers, self._server_id)
        self.receiver = Receiver(self.config.token, self.accept, self.status, webhooks)
        self.metrics = Metrics(runtime)
        mount(self.receiver.app, self.metrics, self.receiver.authorized)
        runtime.outbox.add_listener(self.metrics.write_settled)
        self.ready = asyncio.Event()
        self.address: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        # The web dashboard: its own routes under /dashboard, beside the API's.
        self.dashboard = Dashboard(runtime, self.config.token, self._spawn, self.ready.is_set)
        self.dashboard.mount(self.receiver.app)

    @classmethod
    async def open(cls, config: Config) -> Service:
        return cls(await Runtime.open(config))

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        cfg = self.config
        self.address = await self.receiver.start(cfg.listen_host, cfg.listen_port)
        log.info(
            "listening",
            host=self.address[0],
            port=self.address[1],
            servers=",".join(s.name for s in self.runtime.servers),
            database=cfg.database.split("://", 1)[0],
        )
        self._spawn(self._warm_up(), "warm-up")
        return self.address

    async def stop(self) -> None:
        await self.receiver.stop()
        for task in self._tasks:
            task.cancel()
        await self.watch.stop()
        await self.events.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.runtime.close()
        log.info("stopped")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _warm_up(self) -> None:
        runtime = self.runtime
        await runtime.warm_up()
        self.ready.set()
        runtime.outbox.start()
        self._spawn(self.events.run(), "events")
        self._spawn(self.watch.run(), "probes")
        self._spawn(
            run_on_schedule(self.config.sync, lambda reason: run_sync(runtime, reason)),
            "full-sync",
        )
        log.info(
            "ready",
            servers=",".join(
                f"{s.name}={'up' if s.reachable else 'down'}" for s in runtime.servers
            ),
        )

    # -- the receiver's callbacks ------------------------------------------------------
    def _server_id(self, name: str) -> str | None:
        """A server's own id as probed so far (None while it has not answered)."""
        return next((s.server_id for s in self.runtime.servers if s.name == name), None)

    async def accept(self, events: list[PlaybackEvent]) -> Accepted:
        self.metrics.count_events(events)
        accepted, duplicates = await self.events.accept(events)
        return Accepted(accepted=accepted, duplicates=duplicates)

    async def status(self) -> dict[str, Any]:
        return await status_mod.status(self.runtime, self.ready.is_set(), self.started_at)


async def serve(
    config: Config, stop: asyncio.Event, on_ready: Callable[[Service], None] | None = None
) -> None:
    service = await Service.open(config)
    await service.start()
    if on_ready is not None:
        on_ready(service)
    try:
        await stop.wait()
    finally:
        await service.stop()
