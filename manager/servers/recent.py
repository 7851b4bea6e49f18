"""What a server held for a user a moment ago, so a write right after a read need not read
again. The full sync lists every item's state of a user and writes only the ones that
differ, seconds later; without this, each of those writes read the item once more first.

Rule: a state noted at `read_at` is used at most once, within `MAX_AGE_S`, and not after
one of our own writes to that item there (`wrote`), which would have changed it. Writes are
kept by the whole second: one in the second the read began counts as after it. The
writer also checks that the ledger learned of no change of the item after `read_at`. What
it cannot see is a change made on that server, after the read, that no proxy or webhook
reported: that is why the age is short, and why the real-time path never uses it.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from manager.model import UserId
from manager.servers.models import MediaItem

MAX_AGE_S = 60.0
# A full sync queues a bounded number of writes ahead (its tracker); this only caps memory
# should a caller note states it never writes.
MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class ReadState:
    item: MediaItem  # as the user saw it: played, resume point, last played
    read_at: float  # when the read began, on the clock the ledger dates changes by


class RecentStates:
    """Per server: (user, item id) → the state read last; and when we last wrote there."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._states: OrderedDict[tuple[UserId, str], ReadState] = OrderedDict()
        # Our writes by the whole second they landed in (oldest first), then by user: item
        # ids. A first full sync makes hundreds a second, so MAX_AGE_S holds tens of
        # thousands; kept this way each takes half of what a (user, item) → time entry did.
        self._writes: deque[tuple[int, dict[UserId, set[str]]]] = deque()

    def __len__(self) -> int:
        return len(self._states)

    def note(self, user_id: UserId, item_id: str, state: ReadState) -> None:
        """Keep the state, unless one of our writes to the item may have landed after the
        read began (a write after this note drops it: `wrote`)."""
        key = (user_id, item_id)
        self._states.pop(key, None)
        if self._written_since(user_id, item_id, state.read_at):
            return
        self._states[key] = state
        while len(self._states) > MAX_ENTRIES:
            self._states.popitem(last=False)

    def wrote(self, user_id: UserId, item_id: str) -> None:
        """One of our writes to the item landed (or may have): states read before are stale."""
        second = int(self.clock())
        # In the same second, or when the clock stepped back, the write joins the newest
        # second (take stops at the first that ended before the read): dated late, not early.
        if not self._writes or self._writes[-1][0] < second:
            self._writes.append((second, {}))
        by_user = self._writes[-1][1]
        items = by_user.get(user_id)
        if items is None:
            items = by_user[user_id] = set()
        items.add(item_id)
        self._states.pop((user_id, item_id), None)
        self._forget_old_writes()

    def take(self, user_id: UserId, item_id: str) -> ReadState | None:
        """The state noted for the item, once, while it is still fresh."""
        state = self._states.pop((user_id, item_id), None)
        if state is None or self.clock() - state.read_at > MAX_AGE_S:
            return None
        return state

    def peek(self, user_id: UserId, item_id: str) -> ReadState | None:
        """The state noted for the item, left in place (what the item is, not whether its
        state can still be used: `take` says that)."""
        return self._states.get((user_id, item_id))

    def _written_since(self, user_id: UserId, item_id: str, read_at: float) -> bool:
        """Whether we wrote the item in the second `read_at` falls in or later. Asked when
        a state is noted, a moment after its read: only the last second or two are looked
        at, where asked at `take` every second since the read was (a first sync takes
        states read a minute before)."""
        for second, by_user in reversed(self._writes):
            if second + 1 <= read_at:
                return False  # this second and those before it ended before the read began
            if item_id in by_user.get(user_id, ()):
                return True
        return False

    def _forget_old_writes(self) -> None:
        # A write older than MAX_AGE_S precedes every state still fresh enough to be taken.
        horizon = self.clock() - MAX_AGE_S
        while self._writes and self._writes[0][0] + 1 < horizon:
            self._writes.popleft()
