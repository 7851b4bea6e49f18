"""Locks by key, for as many keys as there are items, each held alone or shared.

A write holds its item alone and the item's season and show shared: an episode's write
and its season's or show's never overlap, two episodes of one show do. A lock lives only
while someone holds it or waits for it, so a first sync's tens of thousands of items
leave none behind. A holder of several keys takes them in one order (sorted), so two
holders never wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

type Key = tuple[str, ...]


class _Entry:
    __slots__ = ("changed", "readers", "users", "writer")

    def __init__(self) -> None:
        self.changed = asyncio.Condition()
        self.readers = 0  # holders sharing it
        self.writer = False  # held alone
        self.users = 0  # holders and waiters: the entry goes when none is left


class KeyedLock:
    def __init__(self) -> None:
        self._entries: dict[Key, _Entry] = {}

    def __len__(self) -> int:
        """Keys held or waited for now."""
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, alone: Key, shared: tuple[Key, ...] = ()) -> AsyncIterator[None]:
        """`alone` held by this holder only, each of `shared` by no one alone, until the
        block ends."""
        wanted = {key: False for key in shared if key != alone} | {alone: True}
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(wanted):
                await stack.enter_async_context(self._one(key, wanted[key]))
            yield

    @asynccontextmanager
    async def _one(self, key: Key, alone: bool) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.changed:
                await entry.changed.wait_for(
                    lambda: not entry.writer and not (alone and entry.readers)
                )
                if alone:
                    entry.writer = True
                else:
                    entry.readers += 1
            try:
                yield
            finally:
                async with entry.changed:
                    if alone:
                        entry.writer = False
                    else:
                        entry.readers -= 1
                    entry.changed.notify_all()
        finally:
            entry.users -= 1
            if not entry.users:
                del self._entries[key]
