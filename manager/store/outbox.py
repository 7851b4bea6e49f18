"""Durable outbox: every decided write waits here until a peer has taken it.

- One row per (peer, user, item identity): a newer state replaces an older pending one
  (coalescing), an older one never replaces a newer one.
- Delivered with bounded concurrency (overall and per peer); a peer that is down or
  answers 5xx is retried with capped exponential backoff, and while it is down its other
  rows wait instead of all failing one by one.
- A definite 4xx drops the row with a log line saying why.
- Rows live in the database, so a restart picks up where the last run stopped.

The full sync enqueues its writes here too (`origin="sync"`) and can follow results with
`add_listener` and wait with `wait_idle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from manager.config import DeliveryConfig
from manager.logs import get_logger
from manager.model import Change
from manager.store import outbox_rows as rows
from manager.store.db import now
from manager.store.outbox_rows import Attempt, Write
from manager.store.runner import DbRunner

log = get_logger("manager.store.outbox")


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # nothing to do: the peer already holds it, or something newer
    DEFERRED = "deferred"  # not now (the user is playing it there): again in DEFER_S
    RETRY = "retry"
    DROP = "dropped"


# A write deferred while the user plays the item on that peer is tried again this often.
DEFER_S = 30.0
# Due rows are read this many at a time and dispatched from memory as slots free up: one
# database call per write (slots free one by one) cost more than the write's own logic.
# Read again when they run out, are older than READY_MAX_AGE_S, or anything was queued.
READY_BATCH = 64
READY_MAX_AGE_S = 0.5


@dataclass(frozen=True, slots=True)
class Result:
    verdict: Verdict
    detail: str = ""
    peer_down: bool = False  # the peer could not be reached at all: hold its other rows
    retry_now: bool = False  # e.g. a token was refreshed after a 401: no backoff
    seconds: float = 0.0  # how long the attempt took: set by the outbox for its listeners
    # Delivered, and the deliverer already removed the row (in the transaction that kept
    # what it wrote): nothing left to finish.
    settled: bool = False


Deliverer = Callable[[Attempt], Awaitable[Result]]
Listener = Callable[[Attempt, Result], None]


class Outbox:
    def __init__(self, runner: DbRunner, deliver: Deliverer, config: DeliveryConfig) -> None:
        self._runner = runner
        self._deliver = deliver
        self._config = config
        self._wake = asyncio.Event()
        self._inflight: dict[int, Attempt] = {}
        # Due rows read ahead per peer, in due order, and when each read began; when a row
        # last became due (queued, or made due now) that those reads may have missed.
        self._ready: dict[str, list[Attempt]] = {}
        self._ready_at: dict[str, float] = {}
        self._stale_at = 0.0
        self._per_peer: dict[str, int] = {}
        self._peer_blocked_until: dict[str, float] = {}
        self._peer_failures: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.delivered = 0
        self.dropped = 0

    # -- public API -------------------------------------------------------------------
    async def enqueue(self, writes: Sequence[Write]) -> int:
        if not writes:
            return 0
        changed = await self._runner.run(rows.upsert, list(writes), now())
        self._stale_at = time.monotonic()  # it may be due before those read ahead
        self._wake.set()
        return changed

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def depth(self) -> int:
        return await self._runner.run(rows.count)

    async def depth_by_peer(self) -> dict[str, int]:
        return await self._runner.run(rows.count_by_peer)

    def peer_blocked(self, peer: str) -> bool:
        return self._peer_blocked_until.get(peer, 0.0) > time.time()

    def held_peers(self, at: float | None = None) -> set[str]:
        """The peers whose rows are held after failures, now (or at `at`)."""
        at = time.time() if at is None else at
        return {peer for peer, until in self._peer_blocked_until.items() if until > at}

    async def peer_recovered(self, peer: str) -> int:
        """A probe saw `peer` answer again: retry its rows now, not after their backoff."""
        self._peer_blocked_until.pop(peer, None)
        self._peer_failures.pop(peer, None)
        count = await self._runner.run(rows.due_now, peer, time.time())
        self._stale_at = time.monotonic()
        self._wake.set()
        return count

    async def retry_now(self, row_ids: Sequence[int] | None = None) -> int:
        """A person asked (the dashboard): try these rows (None: all) now, their peers'
        holds lifted; the attempt counts stay, so a row that fails again backs off more."""
        if row_ids is None:
            self._peer_blocked_until.clear()
        else:
            peers = await self._runner.run(rows.peers_of, list(row_ids))
            for peer in peers:
                self._peer_blocked_until.pop(peer, None)
        count = await self._runner.run(rows.due_at, row_ids, time.time())
        self._stale_at = time.monotonic()
        self._wake.set()
        return count

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._inflight and await self.depth() == 0:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking rows; let writes in flight finish (a write cut off after the peer
        applied it would be sent again after a restart)."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- dispatcher -------------------------------------------------------------------
    def _backoff(self, attempts: int) -> float:
        delay = min(
            self._config.max_backoff, self._config.base_backoff * (2 ** max(0, attempts - 1))
        )
        return delay * random.uniform(0.8, 1.0)

    def _skipped_peers(self, at: float) -> list[str]:
        """Peers not to take rows for now: held after failures, or at their own limit."""
        full = {p for p, n in self._per_peer.items() if n >= self._config.per_peer}
        return sorted(self.held_peers(at) | full)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._config.concurrency - len(self._inflight)
            started = 0
            if free <= 0:
                # Every slot busy: a finishing delivery sets _wake.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=5.0)
                continue
            if free > 0:
                due = await self._due(free)
                if self._stopping:
                    break
                for d in due:
                    peer = d.write.peer
                    if len(self._inflight) >= self._config.concurrency:
                        break
                    if self._per_peer.get(peer, 0) >= self._config.per_peer:
                        continue
                    self._ready[peer].remove(d)
                    self._inflight[d.row_id] = d
                    self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
                    task = asyncio.create_task(self._one(d))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    started += 1
            if started:
                continue
            wait = 5.0
            if any(self._ready.values()):  # due rows wait for a full peer: a delivery ends
                next_due = None
            else:
                next_due = await self._runner.run(
                    rows.next_due, list(self._inflight), self._skipped_peers(time.time())
                )
            if next_due is not None:
                wait = min(wait, max(0.0, next_due - time.time()))
            unblock = [
                u - time.time() for u in self._peer_blocked_until.values() if u > time.time()
            ]
            if unblock:
                wait = min(wait, max(0.0, *unblock))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))

    async def _due(self, free: int) -> list[Attempt]:
        """Due rows of peers with room, not in flight: those read ahead while fresh; a
        database read only for peers with room and nothing read ahead (one per peer per
        READY_BATCH rows, not one per freed slot)."""
        t, read_at = time.time(), time.monotonic()
        for peer, at in list(self._ready_at.items()):
            if not self._ready[peer] or at <= self._stale_at or read_at - at >= READY_MAX_AGE_S:
                del self._ready[peer], self._ready_at[peer]
        skipped = set(self._skipped_peers(t))
        if not any(rows_ for p, rows_ in self._ready.items() if p not in skipped):
            held = [d.row_id for rows_ in self._ready.values() for d in rows_]
            fetched = await self._runner.run(
                rows.due,
                t,
                [*self._inflight, *held],
                sorted(skipped | self._ready.keys()),
                max(free * 2, READY_BATCH),
            )
            for d in fetched:
                self._ready.setdefault(d.write.peer, []).append(d)
                self._ready_at.setdefault(d.write.peer, read_at)
        return [d for p, rows_ in self._ready.items() if p not in skipped for d in rows_]

    async def _one(self, d: Attempt) -> None:
        w = d.write
        started = time.monotonic()
        try:
            try:
                result = await self._deliver(d)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not kill the outbox; retry later
                log.exception("write_crashed", peer=w.peer, user=w.user_name, title=w.title)
                result = Result(Verdict.RETRY, f"internal error: {type(exc).__name__}")
            await self._settle(d, result, time.monotonic() - started)
        finally:
            self._inflight.pop(d.row_id, None)
            self._per_peer[w.peer] = max(0, self._per_peer.get(w.peer, 1) - 1)
            self._wake.set()

    async def _settle(self, d: Attempt, result: Result, took: float) -> None:
        w = d.write
        fields_: dict[str, Any] = {
            "peer": w.peer,
            "user": w.user_name or w.user_id,
            "title": w.title,
            "change": w.change.value,
            "item_id": w.item_id,
            "origin": w.origin,
            "attempt": d.attempts + 1,
            "request_ms": round(took * 1000, 1),
            "latency_ms": round((time.time() - w.observed_at) * 1000, 1),
        }
        if w.time_ms is not None and w.change is Change.RESUME:
            fields_["time_ms"] = w.time_ms
        if result.verdict in (Verdict.DELIVERED, Verdict.SKIPPED, Verdict.DROP):
            if not result.settled:
                await self._runner.together(rows.finish, d)
            self._peer_failures.pop(w.peer, None)
            self._peer_blocked_until.pop(w.peer, None)
            if result.verdict is Verdict.DROP:
                self.dropped += 1
                log.warning("write", outcome="dropped", reason=result.detail, **fields_)
            else:
                if result.verdict is Verdict.DELIVERED:
                    self.delivered += 1
                log.info(
                    "write", outcome=result.verdict.value, detail=result.detail or None, **fields_
                )
        elif result.verdict is Verdict.DEFERRED:
            await self._runner.together(rows.defer, d, time.time() + DEFER_S, result.detail)
            log.info(
                "write", outcome="deferred", reason=result.detail, retry_in_s=DEFER_S, **fields_
            )
        else:
            delay = 0.0 if result.retry_now else self._backoff(d.attempts + 1)
            if result.peer_down:
                failures = self._peer_failures.get(w.peer, 0) + 1
                self._peer_failures[w.peer] = failures
                hold = self._backoff(failures)
                self._peer_blocked_until[w.peer] = time.time() + hold
                delay = max(delay, hold)
            await self._runner.together(rows.reschedule, d, time.time() + delay, result.detail)
            log.info(
                "write",
                outcome="retry",
                reason=result.detail,
                retry_in_s=round(delay, 2),
                **fields_,
            )
        result = replace(result, seconds=took)
        for listener in list(self._listeners):
            try:
                listener(d, result)
            except Exception:
                log.exception("outbox_listener_failed")
