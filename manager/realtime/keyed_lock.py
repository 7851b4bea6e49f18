"""Locks by key, for as many keys as there are items, each held alone or shared.

A write holds its item alone and the item's season and show shared: an episode's write
and its season's or show's never overlap, two episodes of one show do. A lock lives only
while someone holds it or waits for it, so a first sync's tens of thousands of items
leave none behind. A holder of several keys takes them in one order (sorted), so two
holders never wait for each other; waiters are served first come, first served, so a
show's write is not kept waiting by its episodes' writes that came after it.
Plain futures rather than asyncio's locks: one write takes up to three of these, and an
uncontended take is a dictionary lookup.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

type Key = tuple[str, ...]


class _Entry:
    __slots__ = ("readers", "waiters", "writer")

    def __init__(self) -> None:
        self.readers = 0  # holders sharing it
        self.writer = False  # held alone
        self.waiters: deque[tuple[bool, asyncio.Future[None]]] = deque()

    def free_for(self, alone: bool) -> bool:
        return not self.writer and not (alone and self.readers)

    def take(self, alone: bool) -> None:
        if alone:
            self.writer = True
        else:
            self.readers += 1


class KeyedLock:
    def __init__(self) -> None:
        self._entries: dict[Key, _Entry] = {}

    def __len__(self) -> int:
        """Keys held or waited for now."""
        return len(self._entries)

    def hold(self, alone: Key, shared: tuple[Key, ...] = ()) -> _Held:
        """`alone` held by this holder only, each of `shared` by no one alone, for the
        `async with` block."""
        wanted = {key: False for key in shared if key != alone} | {alone: True}
        return _Held(self, sorted(wanted.items()))

    async def _take(self, key: Key, alone: bool) -> None:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        if not entry.waiters and entry.free_for(alone):
            entry.take(alone)
            return
        waiter = asyncio.get_running_loop().create_future()
        entry.waiters.append((alone, waiter))
        try:
            await waiter  # `_give` took it on our behalf
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give(key, alone)  # given, but we will not use it
            else:
                entry.waiters.remove((alone, waiter))
                self._serve(key, entry)
            raise

    def _give(self, key: Key, alone: bool) -> None:
        entry = self._entries[key]
        if alone:
            entry.writer = False
        else:
            entry.readers -= 1
        self._serve(key, entry)

    def _serve(self, key: Key, entry: _Entry) -> None:
        """Hand the key to its waiters in order, as far as it goes; forget it when no one
        holds or waits for it."""
        while entry.waiters and entry.free_for(entry.waiters[0][0]):
            alone, waiter = entry.waiters.popleft()
            entry.take(alone)
            waiter.set_result(None)
        if not entry.waiters and not entry.writer and not entry.readers:
            del self._entries[key]


class _Held:
    __slots__ = ("_keys", "_locks", "_taken")

    def __init__(self, locks: KeyedLock, keys: list[tuple[Key, bool]]) -> None:
        self._locks = locks
        self._keys = keys
        self._taken = 0

    async def __aenter__(self) -> None:
        try:
            for key, alone in self._keys:
                await self._locks._take(key, alone)
                self._taken += 1
        except BaseException:
            self._give_back()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._give_back()

    def _give_back(self) -> None:
        for key, alone in reversed(self._keys[: self._taken]):
            self._locks._give(key, alone)
        self._taken = 0
