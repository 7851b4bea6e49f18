"""Full sync: the users' listings, read ahead of the user being planned.

A listing is mostly the servers' work (they make the pages), planning a user mostly the
manager's: done in turn, each side waits for the other. So the next user's listing is
asked for while a user is planned, when the user before planned few changes
(engine.py, SMALL_PLAN); after a large plan, once it is recorded, as before: the run
kept a large plan and a listing's pages in flight apart for the sake of its peak of
memory. One listing at a time is read ahead: each holds a user's states.

Reading a user's listing while the catalogues were read (its pages kept until the run
had confirmed its users and grouped the items) was tried: its pages in flight raised
the peak of memory at 100 000 items per server from 278 to 294 MiB (goal: 286), and
giving up on a long listing to read it again later, to 369 MiB (docs/sync-speed.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from manager.fullsync.read import UserRead
from manager.model import ClusterUser

Reader = Callable[[ClusterUser, int], Awaitable[UserRead]]


class ReadAhead:
    """Users' listings asked for ahead of their turn, by place in the run's users."""

    def __init__(self, users: list[ClusterUser], read: Reader) -> None:
        self.users = users
        self._read = read
        self._pending: list[asyncio.Task[UserRead] | None] = []

    def upto(self, n: int) -> None:
        """Ask for every listing up to the n-th user's (those not asked for yet)."""
        while len(self._pending) <= min(n, len(self.users) - 1):
            m = len(self._pending)
            self._pending.append(asyncio.create_task(self._read(self.users[m], m)))

    async def take(self, n: int) -> UserRead:
        """The n-th user's listing (asked for now if it was not), no longer held here."""
        self.upto(n)
        task = self._pending[n]
        assert task is not None
        self._pending[n] = None  # free the states once the caller is done with them
        return await task

    def cancel(self) -> None:
        """Reads of a run that ended early go."""
        for task in self._pending:
            if task is not None and not task.done():
                task.cancel()
