"""What stamp a server leaves on an item when we write to it, without reading it back.

A server stamps `last_played_at` with its own "now" (whole seconds) when a played mark or a
resume point lands. We keep that stamp with each write (store/peer_writes.py) so it never
passes for a newer change. Reading the item back after every write costs a request per
write, as much as the write itself; instead a server's clock is learned from one such
read-back and the stamps of the writes that follow are predicted from it.

Rule: the offset between a server's clock and ours is learned from a read-back that
followed one of our writes (the stamp lies between the write's start and its answer, on the
server's clock); a prediction is made only while that offset is under `MAX_AGE_S` old (so a
clock that jumps is noticed within a minute), and a stamp is ours when it is within
`SLACK_S` of what we recorded: the whole-second stamp, the round trips of the write and of
the read-back, and the rounding between them. The price: a change that the user makes on
that very server, to that very item, within `SLACK_S` of our write, and that no proxy or
webhook reports, is dated as our write's change. The ledger still holds every reported
change with its own date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGE_S = 60.0
SLACK_S = 2


def same_stamp(ours: int, seen: int) -> bool:
    """Whether a stamp seen on a server is the one our write left (recorded or predicted)."""
    return abs(ours - seen) <= SLACK_S


@dataclass(slots=True)
class PeerClock:
    """One server's clock as seen from ours: `server time = our time + offset`."""

    offset: float | None = None
    learned_at: float = 0.0

    def learn(self, stamp: int, sent_at: float, answered_at: float) -> None:
        """A read-back's stamp, of a write sent at `sent_at` and answered at `answered_at`
        (our clock): the server's second `stamp` began somewhere in that span."""
        self.offset = stamp + 0.5 - (sent_at + answered_at) / 2
        self.learned_at = answered_at

    def stamp_for(self, sent_at: float, answered_at: float) -> int | None:
        """The stamp a write sent and answered at these times (our clock) left there, or
        None when the clock is not known well enough: read the item back then."""
        if self.offset is None or answered_at - self.learned_at > MAX_AGE_S:
            return None
        return math.floor((sent_at + answered_at) / 2 + self.offset)
