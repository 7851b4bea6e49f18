"""Fewer writes for the same thing: heartbeats at most once per interval, a paused player's
repeated position once.

Players report "playing" every 10 s and a paused position again and again. Writing each
would restamp every peer's `lastViewedAt` and load them for nothing: a heartbeat's resume
point goes out at most once per `interval` per user and item, and the same position again
within `interval` is not written twice (after it, once more, in case something else moved
it meanwhile). Any other change clears both memories for that user and item.
"""

from __future__ import annotations

import time

from manager.model import ItemKey, UserId

_MAX_ENTRIES = 10_000  # beyond this, old entries are forgotten (memory stays bounded)

_Key = tuple[UserId, ItemKey]


class Throttle:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_heartbeat: dict[_Key, float] = {}
        self._last_position: dict[_Key, tuple[int | None, float]] = {}

    def heartbeat_due(self, user: UserId, key: ItemKey) -> bool:
        """A heartbeat's resume point: True (and remembered) when it may be written now."""
        if len(self._last_heartbeat) > _MAX_ENTRIES:
            self._forget_old()
        now = time.monotonic()
        last = self._last_heartbeat.get((user, key))
        if last is not None and now - last < self.interval:
            return False
        self._last_heartbeat[(user, key)] = now
        return True

    def position_new(self, user: UserId, key: ItemKey, time_ms: int | None) -> bool:
        """A resume point: False when the same position went out within the interval."""
        now = time.monotonic()
        last = self._last_position.get((user, key))
        if last is not None and last[0] == time_ms and now - last[1] < self.interval:
            return False
        self._last_position[(user, key)] = (time_ms, now)
        return True

    def not_heartbeat(self, user: UserId, key: ItemKey) -> None:
        """A report that is not a heartbeat: the next heartbeat may go out at once."""
        self._last_heartbeat.pop((user, key), None)

    def not_position(self, user: UserId, key: ItemKey) -> None:
        """A change that is not a resume point: the next position is news again."""
        self._last_position.pop((user, key), None)

    def forget_positions(self, user: UserId) -> None:
        """A show- or season-level change: every position remembered for the user is old."""
        for k in [k for k in self._last_position if k[0] == user]:
            del self._last_position[k]

    def _forget_old(self) -> None:
        horizon = time.monotonic() - self.interval
        for k in [k for k, at in self._last_heartbeat.items() if at < horizon]:
            del self._last_heartbeat[k]
        if len(self._last_position) > _MAX_ENTRIES:
            self._last_position.clear()
