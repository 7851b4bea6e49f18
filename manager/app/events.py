"""The inbox worker: events accepted by the receiver, handed to the real-time handler.

An event is stored before the proxy gets its 202 (`accept`), then processed here, up to
`EVENT_CONCURRENCY` at a time. An outcome caused by something temporary (a server or the
directory unreachable) is retried with backoff, `EVENT_ATTEMPTS` times in all; every
other outcome is final and recorded with the event's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from manager.event import EventError, PlaybackEvent
from manager.logs import get_logger
from manager.model import Outcome
from manager.realtime.handler import RealtimeHandler
from manager.store import inbox
from manager.store.runner import DbRunner

log = get_logger("manager.service")

EVENT_CONCURRENCY = 8
EVENT_ATTEMPTS = 6


class EventWorker:
    def __init__(self, runner: DbRunner, handler: RealtimeHandler) -> None:
        self.runner = runner
        self.handler = handler
        self._wake = asyncio.Event()
        self._attempts: dict[str, tuple[int, float]] = {}  # event id → (tries, next at)
        self._inflight: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def accept(self, events: list[PlaybackEvent]) -> tuple[int, int]:
        """Store events durably; (accepted, duplicates)."""
        items = [(e.id, e.to_json()) for e in events]
        fresh = await self.runner.run(inbox.store_events, items, time.time())
        duplicates = sum(1 for f in fresh if not f)
        for event, new in zip(events, fresh, strict=True):
            if not new:
                log.info(
                    "event", outcome=Outcome.DUPLICATE.value, event_id=event.id, kind=event.kind
                )
        self._wake.set()
        return len(events) - duplicates, duplicates

    async def run(self) -> None:
        limit = asyncio.Semaphore(EVENT_CONCURRENCY)
        while not self._stopping:
            self._wake.clear()
            now = time.time()
            waiting = [i for i, (_, at) in self._attempts.items() if at > now]
            batch = await self.runner.run(
                inbox.pending_events, EVENT_CONCURRENCY * 4, [*self._inflight, *waiting]
            )
            if not batch:
                timeout = 5.0
                if waiting:
                    timeout = min(timeout, min(at for _, at in self._attempts.values()) - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, timeout))
                continue
            for event_id, payload in batch:
                await limit.acquire()
                self._inflight.add(event_id)
                task = asyncio.create_task(self._process(event_id, payload))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                task.add_done_callback(lambda _t, _id=event_id: self._done(_id, limit))

    async def stop(self, grace: float = 5.0) -> None:
        """Events being processed finish (their writes reach the outbox) first."""
        self._stopping = True
        self._wake.set()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace)

    def _done(self, event_id: str, limit: asyncio.Semaphore) -> None:
        self._inflight.discard(event_id)
        limit.release()
        self._wake.set()

    async def _process(self, event_id: str, payload: str) -> None:
        try:
            event = PlaybackEvent.from_json(payload)
        except EventError as exc:
            log.warning(
                "event", outcome=Outcome.UNREADABLE.value, event_id=event_id, error=str(exc)
            )
            await self.runner.run(inbox.finish_event, event_id, Outcome.UNREADABLE, time.time())
            return
        try:
            outcome = await self.handler.handle(event)
        except Exception:
            log.exception("event_crashed", event_id=event_id)
            outcome = Outcome.ERROR
        if outcome.retryable:
            attempts = self._attempts.get(event_id, (0, 0.0))[0] + 1
            if attempts < EVENT_ATTEMPTS:
                delay = min(60.0, 2.0**attempts)
                self._attempts[event_id] = (attempts, time.time() + delay)
                log.info("event_retry", event_id=event_id, attempt=attempts, retry_in_s=delay)
                return
        self._attempts.pop(event_id, None)
        await self.runner.run(inbox.finish_event, event_id, outcome.value, time.time())
