"""Full sync, following its writes: which of this run's writes the outbox has delivered.

The sync queues its writes in the same outbox as real-time events; the tracker listens to
the outbox's results, counts them into the report, and lets the run wait until its writes
are done or their peer is found down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from manager.fullsync.plan import PlannedWrite
from manager.fullsync.report import Progress, SyncReport
from manager.model import Change, ItemKey, UserId
from manager.store.outbox import Attempt, Outbox, Result, Verdict

MAX_WRITE_RETRIES = 3  # a sync write still failing after this many tries is reported failed

_Key = tuple[str, UserId, ItemKey]


@dataclass(slots=True)
class _Pending:
    change: Change
    items: int
    extra_requests: int  # an unscrobble before a resume point
    retries: int = 0


class Tracker:
    """Follows this run's writes through the outbox and counts their outcomes."""

    def __init__(self, report: SyncReport, outbox: Outbox, progress: Progress) -> None:
        self.report = report
        self.outbox = outbox
        self.progress = progress
        self.pending: dict[_Key, _Pending] = {}
        self.changed = asyncio.Event()
        # `wait` is woken only once the writes outstanding are down to this: at hundreds
        # of writes a second, a wake per write (each looking over every pending write)
        # cost more than the tracking itself.
        self._below = 0

    def expect(self, user_id: UserId, write: PlannedWrite) -> None:
        key = (write.server, user_id, write.identity_key)
        self.pending[key] = _Pending(write.change, write.items, int(write.unscrobble_first))

    def _resolve(self, key: _Key) -> _Pending | None:
        entry = self.pending.pop(key, None)
        if entry is not None and self.progress.phase == "writing":
            self.progress.advance(1)
        if len(self.pending) <= self._below:
            self.changed.set()
        return entry

    def _fail_peer(self, peer: str, why: str) -> None:
        summary = self.report.server(peer)
        summary.error(why)
        for key in [k for k in self.pending if k[0] == peer]:
            entry = self._resolve(key)
            if entry is not None:
                summary.failed += entry.items
                self.report.undelivered += 1

    def listener(self, attempt: Attempt, result: Result) -> None:
        w = attempt.write
        key = (w.peer, w.user_id, w.identity_key)
        entry = self.pending.get(key)
        if entry is None:
            return
        summary = self.report.server(w.peer)
        if result.verdict is Verdict.DELIVERED:
            self._resolve(key)
            summary.count(entry.change, entry.items)
            summary.write_requests += 1 + entry.extra_requests
        elif result.verdict in (Verdict.SKIPPED, Verdict.DEFERRED):
            # Deferred: the outbox delivers it once the user stops playing it there.
            self._resolve(key)
            summary.skipped += entry.items
        elif result.verdict is Verdict.DROP:
            self._resolve(key)
            summary.failed += entry.items
            summary.error(f"write refused: {result.detail}")
        elif result.peer_down:
            self._fail_peer(w.peer, f"unreachable while writing: {result.detail}")
        else:
            entry.retries += 1
            if entry.retries >= MAX_WRITE_RETRIES:
                self._resolve(key)
                summary.failed += entry.items
                self.report.undelivered += 1
                summary.error(f"write failed {entry.retries}x: {result.detail}")

    async def wait(self, timeout: float | None, below: int = 0) -> None:
        """Until at most `below` writes are outstanding (a peer found down resolves its
        writes as failed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._below = below
        while True:
            self.changed.clear()
            if len(self.pending) <= below:
                return
            held = self.outbox.held_peers()
            for peer in {k[0] for k in self.pending} & held if held else ():
                self._fail_peer(peer, "unreachable (outbox is holding its writes)")
            if deadline is not None and time.monotonic() >= deadline:
                for peer in {k[0] for k in self.pending}:
                    self._fail_peer(peer, "writes not delivered before the sync's time limit")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)
