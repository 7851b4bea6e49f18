"""How many requests one server gets at once: as many as it answers without slowing down.

A home server on a NAS and a server on a fast machine differ by ten times in what they take;
a fixed number is either slow on one or too much for the other. So the number adapts.

Rule (additive increase, multiplicative decrease, between 1 and the configured ceiling):
- Two averages of the server's answer times: its recent `pace` (the last few answers) and
  its `usual` time (the last fifty or so). A single slow answer on a busy machine moves the
  pace a little; a server that slows down moves it a lot, and the usual time follows only
  if the slowness lasts (then it is the server's new normal).
- After as many answers as there are slots with the pace within `HOLD` × usual, one slot
  more: the pace held, so the server had room.
- A pace slower than `SLOW` × usual, a 429, a 5xx or a timeout halves the slots (at most
  once per pace-long interval, so one burst counts once). A server that slows down is
  never given more requests; it gets fewer until it answers at its usual pace again.
Latencies are compared per kind of request (`Pacer` per client: pages and single requests
differ by two orders of magnitude), never across kinds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from manager.servers.errors import RateLimited, ServerFault, Unreachable

HOLD = 1.5
SLOW = 2.5
RECENT = 0.2  # weight of the newest answer in the pace (about the last five)
USUAL = 0.02  # and in the usual time (about the last fifty)


class Pacer:
    def __init__(
        self, ceiling: int, start: int = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = max(1, min(start, self.ceiling))
        self.pace: float | None = None  # seconds per answer, recently
        self.usual: float | None = None  # and usually
        self.clock = clock
        self.in_flight = 0
        self.raised = 0  # times the limit went up / down (tests read them)
        self.lowered = 0
        self._held = 0
        self._last_cut = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    # -- the decisions (pure, table-tested) ---------------------------------------------
    def answered(self, seconds: float) -> None:
        """One successful answer that took `seconds`."""
        if self.pace is None or self.usual is None:
            self.pace = self.usual = seconds
        else:
            self.pace += RECENT * (seconds - self.pace)
            self.usual += USUAL * (seconds - self.usual)
        if self.pace > SLOW * self.usual:
            self._cut()
        elif self.pace <= HOLD * self.usual:
            self._held += 1
            if self._held >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.raised += 1
                self._held = 0
                self._wake()

    def overloaded(self) -> None:
        """A 429, a 5xx or a timeout: the server says it has too much."""
        self._cut()

    def _cut(self) -> None:
        self._held = 0
        now = self.clock()
        if now - self._last_cut < (self.pace or 0.0) or self.limit == 1:
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

    async def run[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """One request in a slot: its answer time counted, an overload cutting the slots.
        Every kind's client sends through here, so each server is paced the same way."""
        async with self.slot():
            started = time.monotonic()
            try:
                answer = await request()
            except (ServerFault, RateLimited, Unreachable):
                self.overloaded()
                raise
            self.answered(time.monotonic() - started)
            return answer

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
