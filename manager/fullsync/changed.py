"""Incremental sync, reading: per user, only the items that changed since the last run.

A server can list the items a user played or left a resume point in after a time (Plex:
`lastViewedAt>>=`). Every item group touched so on some server is then read on every other
server the user can use, in batches (`items_by_id`): a decision needs every server's state
of the item. The result is the `UserRead` a full read gives, limited to those groups
(`UserRead.groups`), so the plan, its rules and the writes are the full sync's own.

The catalogue (the owner's listing) is read whole, as in every run: it groups items across
servers, and it is the owner's state, of which the changed part is taken the same way.

What it cannot see: an item marked unplayed leaves no date, so it is never listed. The
proxy reports those as they happen; the full sync, on its slower schedule, finds the rest.
"""

from __future__ import annotations

import asyncio
import time

from manager.fullsync.catalog import ADMIN_BIT, UserState, state_of
from manager.fullsync.group import Groups
from manager.fullsync.read import RunReader, UserRead
from manager.model import ClusterUser
from manager.servers.errors import MediaServerError
from manager.servers.models import Credential
from manager.servers.peer_clock import same_stamp
from manager.store import peer_writes
from manager.store.runner import DbRunner


async def read_changed(
    reads: RunReader,
    user: ClusterUser,
    n: int,
    since: list[int],
    groups: Groups,
    runner: DbRunner,
) -> UserRead:
    """The user's state of every item group changed on some server after `since[i]` (on
    server i's clock, epoch seconds); `n`: their place in the run. A state that our own
    write left (its stamp is ours) is no change: that write was the replay of one."""
    ours = await runner.run(peer_writes.stamps_for, user.id)
    count = len(reads.servers)
    touched: set[int] = set()
    read = UserRead(user, time.time(), [0] * count, [{} for _ in range(count)], touched)
    credentials: dict[int, Credential] = {}
    owned: dict[int, dict[str, UserState]] = {}

    def touch(i: int, states: dict[str, UserState]) -> None:
        items, mine = reads.catalogs[i].items, ours.get(reads.servers[i].name, {})
        for rk, st in states.items():
            entry = items.get(rk)
            if entry is None or entry.group < 0 or (st.last_viewed_at or 0) <= since[i]:
                continue
            stamp = mine.get(rk)
            if stamp is not None and same_stamp(stamp[0], int(st.last_viewed_at or 0)):
                continue
            touched.add(entry.group)

    async def changed_on(i: int) -> None:
        own = reads.owner_listing(user, i)
        if own is not None:
            owned[i] = own.states
            touch(i, own.states)
            return
        got = await reads.user_listing(user, i, n, since[i])
        if got is None:
            return
        credentials[i], read.bits[i], listing = got
        read.states[i] = listing.states
        touch(i, listing.states)

    async def rest_on(i: int) -> None:
        """The touched groups' items there that the changed listing did not give."""
        listed = read.states[i]
        wanted = [
            rk
            for gi in sorted(touched)
            for si, rk in groups.groups[gi].members
            if si == i and rk not in listed
        ]
        if not wanted:
            return
        server = reads.servers[i]
        try:
            found = await reads.readers[i].items_by_id(credentials[i], wanted)
        except MediaServerError as exc:
            reads.report.server(server.name).error(f"{user.name} not read: {exc}")
            reads.report.server(server.name).failed += 1
            read.bits[i] = 0  # half a read decides nothing there
            return
        items = reads.catalogs[i].items
        for item in found:
            entry = items.get(item.id)
            if entry is None:
                continue
            entry.mask |= read.bits[i]
            state = state_of(item)
            if state is not None:
                listed[item.id] = state
        reads.report.server(server.name).compared += len(found)

    usable = reads.usable(user)
    await asyncio.gather(*(changed_on(i) for i in usable))
    for i in credentials:
        # Only the touched groups are this run's: a listed state that is no change (ours,
        # or older than `since` from a server that did not filter) is not decided again
        # from that server's view alone (the ledger would refuse it as older anyway).
        items = reads.catalogs[i].items
        read.states[i] = {
            rk: st
            for rk, st in read.states[i].items()
            if rk in items and items[rk].group in touched
        }
    for i, states in owned.items():
        # The owner's whole state is known; only the touched groups are this run's.
        items = reads.catalogs[i].items
        read.bits[i] = ADMIN_BIT
        read.states[i] = {
            rk: st for rk, st in states.items() if rk in items and items[rk].group in touched
        }
        reads.report.server(reads.servers[i].name).compared += len(read.states[i])
    await asyncio.gather(*(rest_on(i) for i in credentials))
    return read
