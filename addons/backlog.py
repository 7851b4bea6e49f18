"""Events the spool refused (disk full, I/O error, locked), held in memory in order.

Only the spool's writer thread touches a Backlog. Every event goes through it, so an event
is never written before an older one that is still held. Logging is per episode, not per
event: one warning when writing starts failing, one info line when it works again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from addons.spool import DROP_ORDER, PutResult, Spool, SpoolWriteError
from manager.event import PlaybackEvent
from manager.logs import get_logger
from manager.redaction import redact_text

log = get_logger("plex_cluster.proxy")

MAX_HELD = 10_000
RETRY_S = 2.0  # while events are held, the writer tries again this often (and on each event)
_RANK = {pair: n for n, pair in enumerate(DROP_ORDER)}


class Backlog:
    def __init__(self, max_held: int = MAX_HELD) -> None:
        self.max_held = max_held
        self.error: str | None = None  # set while the spool refuses writes
        self.dropped = 0  # heartbeats dropped in this episode to stay under max_held
        self._held: deque[PlaybackEvent] = deque()
        self._over_cap_logged = False

    def __len__(self) -> int:
        return len(self._held)

    def add(self, event: PlaybackEvent) -> None:
        self._held.append(event)
        if len(self._held) <= self.max_held:
            return
        victim = self._oldest_heartbeat()
        if victim is not None:
            del self._held[victim]
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "held events at their cap: dropping the oldest heartbeats",
                    max_held=self.max_held,
                )
        elif not self._over_cap_logged:
            self._over_cap_logged = True
            log.error(
                "held events over their cap with events that are never dropped",
                max_held=self.max_held,
            )

    def _oldest_heartbeat(self) -> int | None:
        best: tuple[int, int] | None = None  # (rank, index)
        for i, event in enumerate(self._held):
            rank = _RANK.get((event.kind, event.state or ""))
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
                if rank == 0:
                    break
        return None if best is None else best[1]

    def flush(self, spool: Spool, stored: Callable[[PlaybackEvent, PutResult], None]) -> bool:
        """Write held events to the spool, oldest first; True once none are left."""
        written = 0
        while self._held:
            event = self._held[0]
            try:
                result = spool.put(event)
            except SpoolWriteError as exc:
                if self.error is None:
                    self.error = redact_text(str(exc))
                    log.warning(
                        "spool write failed: holding events in memory, retrying",
                        error=self.error,
                        held=len(self._held),
                        retry_s=RETRY_S,
                    )
                return False
            except Exception:
                # Not the database: this event itself cannot be stored, and holding it
                # would hold up every later one.
                self._held.popleft()
                log.exception("event could not be spooled and is lost", id=event.id)
                continue
            self._held.popleft()
            written += 1
            stored(event, result)
        if self.error is not None:
            log.info(
                "spool writable again: held events written", held=written, dropped=self.dropped
            )
            self._reset()
        return True

    def abandon(self) -> int:
        """Forget every held event (shutdown); how many there were."""
        lost = len(self._held)
        self._held.clear()
        self._reset()
        return lost

    def _reset(self) -> None:
        self.error = None
        self.dropped = 0
        self._over_cap_logged = False
