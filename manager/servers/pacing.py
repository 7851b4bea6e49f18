"""How many requests one server gets at once: as many as it answers without slowing down.

A home server on a NAS and a server on a fast machine differ by ten times in what they take;
a fixed number is either slow on one or too much for the other. So the number adapts.

Rule (additive increase, multiplicative decrease, between 1 and the configured ceiling):
- The server's unloaded answer time is the quickest of the recent answers (`best`, which
  forgets slowly so that it follows a server that got slower for good).
- After as many answers in a row as there are slots, each within `HOLD` × best, one slot
  more: latency held, so the server had room.
- An answer slower than `SLOW` × best, a 429, a 5xx or a timeout halves the slots (at most
  once per `best`-sized interval, so one burst of slow answers counts once). A server that
  slows down is never given more requests; it gets fewer until it answers quickly again.
Latencies are compared per kind of request (`Pacer` per client: pages and single requests
differ by two orders of magnitude), never across kinds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

HOLD = 2.0
SLOW = 4.0
FORGET = 1.01  # `best` grows by 1 % per answer above it: a server that slowed is followed


class Pacer:
    def __init__(
        self, ceiling: int, start: int = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = max(1, min(start, self.ceiling))
        self.best: float | None = None
        self.clock = clock
        self.in_flight = 0
        self.raised = 0  # times the limit went up / down: shown by benchmarks and status
        self.lowered = 0
        self._held = 0
        self._last_cut = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    # -- the decisions (pure, table-tested) ---------------------------------------------
    def answered(self, seconds: float) -> None:
        """One successful answer that took `seconds`."""
        if self.best is None or seconds < self.best:
            self.best = seconds
        else:
            self.best = min(self.best * FORGET, seconds)
        if seconds > SLOW * self.best:
            self._cut()
        elif seconds <= HOLD * self.best:
            self._held += 1
            if self._held >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.raised += 1
                self._held = 0
                self._wake()
        else:
            self._held = 0

    def overloaded(self) -> None:
        """A 429, a 5xx or a timeout: the server says it has too much."""
        self._cut()

    def _cut(self) -> None:
        self._held = 0
        now = self.clock()
        if now - self._last_cut < (self.best or 0.0) or self.limit == 1:
            return
        self._last_cut = now
        self.limit = max(1, self.limit // 2)
        self.lowered += 1

    # -- the slots ----------------------------------------------------------------------
    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot; hold it for one request."""
        while self.in_flight >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # it was given a slot it will not use: pass it on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
