"""Full sync: the users' listings, read ahead of the user being planned.

A listing is mostly the servers' work (they make the pages), reading the catalogues,
grouping the items and planning a user mostly the manager's: done in turn, each side
waits for the other. So a listing is asked for before its user's turn: the next user's
while one is planned, one more while the items are grouped, and one user's while the
catalogues are read (EARLY_USERS). Those are read before the run knows its
users for sure (it guesses them from the directory, every server taken as readable):
their pages are kept in brief, a bounded number (read.py, `_Early`), and not looked up in
a catalogue (`RunReader.catalogue_ready`) until the guess is confirmed; they go unread
when it is not. Past the catalogue, one listing is read ahead of the user being planned:
each holds a user's states, and the run's memory is bounded by that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from manager.fullsync.read import RunReader, UserRead
from manager.model import ClusterUser

Reader = Callable[[ClusterUser, int], Awaitable[UserRead]]
# Listings read while the catalogues are. Two at 20 000 items per server (make bench
# BENCH=sync) delayed the catalogues as much as they saved later: the emulated servers
# answered their pages before the catalogue's.
EARLY_USERS = 1


class ReadAhead:
    """Users' listings asked for ahead of their turn, by place in the run's users."""

    def __init__(self, reads: RunReader) -> None:
        self.reads = reads
        self.users: list[ClusterUser] = []
        self._pending: list[asyncio.Task[UserRead] | None] = []
        self._read: Reader = reads.read_user
        # The users guessed, and the reads started before the catalogue (from place `first`).
        self._early: tuple[list[ClusterUser], int, list[asyncio.Task[UserRead]]] | None = None

    def before_catalogue(self, guess: list[ClusterUser]) -> None:
        """Start the listings of up to EARLY_USERS users of `guess` who own no server, in
        a row from the first or second (the first is most often the owner, whose listing
        is the catalogue)."""
        first = next((n for n, u in enumerate(guess[:2]) if not self.reads.owns_any(u)), None)
        if first is None:
            return
        tasks: list[asyncio.Task[UserRead]] = []
        for n in range(first, min(first + EARLY_USERS, len(guess))):
            if self.reads.owns_any(guess[n]):
                break
            tasks.append(asyncio.create_task(self.reads.read_user(guess[n], n)))
        self.reads.catalogue_ready.clear()
        self._early = (guess, first, tasks)

    def start(self, users: list[ClusterUser], read: Reader | None = None) -> None:
        """The run's users, known now; `read`: how each is read (a full listing by
        default). The reads started before the catalogue count when they were of these
        users with every server readable; otherwise they go, their pages never taken."""
        self.users = users
        if read is not None:
            self._read = read
        early, self._early = self._early, None
        if early is not None:
            guess, first, tasks = early
            everyone = self.reads.readable() == list(range(len(self.reads.servers)))
            if guess == users and everyone:
                self.upto(first - 1)
                self._pending.extend(tasks)
            else:
                for task in tasks:
                    task.cancel()
        self.reads.catalogue_ready.set()

    @property
    def asked(self) -> int:
        """How many users' listings were asked for (the first `asked` of the run's)."""
        return len(self._pending)

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
        early, self._early = self._early, None
        tasks = [t for t in self._pending if t is not None]
        if early is not None:
            tasks += early[2]
        for task in tasks:
            if not task.done():
                task.cancel()
        self.reads.catalogue_ready.set()
