"""Full sync, handing over: each planned write as an outbox row, and with it what the run
read of that item there, so the writer need not read it again (servers/recent.py).

A user's writes go out over minutes in a large library, and a noted state is only used
while it is young (`MAX_AGE_S`). So once the user's listing is older than half that, the
batch's items are read again before it is queued, a hundred per request
(`MediaServer.items_by_id`), instead of one request per write at delivery.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from manager.fullsync.plan import PlannedWrite
from manager.fullsync.read import RunReader, UserRead
from manager.model import ClusterUser
from manager.servers.errors import MediaServerError
from manager.servers.models import MediaItem
from manager.servers.recent import MAX_AGE_S, ReadState
from manager.servers.server import Server
from manager.store.outbox import Write


async def hand_over(reads: RunReader, read: UserRead, writes: Sequence[PlannedWrite]) -> None:
    """Note, with each written item's server, the state this run knows of it. A show or
    season write reads its episodes anyway: only item writes are noted."""
    servers = reads.servers
    position = {s.name: i for i, s in enumerate(servers)}
    wanted = [w for w in writes if w.level == "item" and w.server in position]
    if time.time() - read.started > MAX_AGE_S / 2:
        await _read_again(servers, reads, read.user, wanted, position)
        return
    for w in wanted:
        si = position[w.server]
        listed = reads.catalogs[si].items.get(w.item_id)
        if listed is None:
            continue
        st = read.states[si].get(w.item_id)  # no entry: unplayed, no resume point
        item = MediaItem(
            id=w.item_id,
            kind=listed.kind,
            title=listed.title,
            duration_ms=listed.duration_ms,
            season_id=listed.season_id,
            show_id=listed.show_id,
            played=st.watched if st else False,
            play_count=int(st.watched) if st else 0,  # at least; nothing decides by it
            resume_ms=(st.view_offset_ms or 0) if st else 0,
            last_played_at=int(st.last_viewed_at) if st and st.last_viewed_at else None,
        )
        servers[si].recent.note(read.user.id, w.item_id, ReadState(item, read.started))


async def _read_again(
    servers: Sequence[Server],
    reads: RunReader,
    user: ClusterUser,
    writes: Sequence[PlannedWrite],
    position: dict[str, int],
) -> None:
    by_server: dict[int, list[str]] = {}
    for w in writes:
        by_server.setdefault(position[w.server], []).append(w.item_id)
    for si, ids in by_server.items():
        server = servers[si]
        try:
            credential = await reads.directory.credential_for(user, server.name)
            if credential is None:
                continue
            at = time.time()
            found = await reads.readers[si].items_by_id(credential, ids)
        except MediaServerError:
            continue  # each write then reads its item itself, as without this
        for item in found:
            server.recent.note(user.id, item.id, ReadState(item, at))


def outbox_write(user: ClusterUser, planned: PlannedWrite) -> Write:
    return Write(
        peer=planned.server,
        user_id=user.id,
        identity_key=planned.identity_key,
        change=planned.change,
        item_id=planned.item_id,
        observed_at=planned.observed_at,
        user_name=user.name,
        user_kind=user.kind,
        time_ms=planned.time_ms,
        duration_ms=planned.duration_ms,
        title=planned.title,
        origin="sync",
        unscrobble_first=planned.unscrobble_first,
    )
