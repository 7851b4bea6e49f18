"""Our own writes on peers, remembered: when each landed, the time of the change it
replayed, and the stamp it left.

A server stamps `last_played_at` with its own "now" when our write arrives. That stamp
says when we wrote, not when the user acted: it is never evidence of a newer change, and
whoever reads it later (the writer, the full sync) dates the state by the change instead.
And when a change made on a server turns out older than our write that landed there
after it (its event was late), the server needs the change back (realtime/handler.py).
Run on the database thread.
"""

from __future__ import annotations

from manager.model import UserId
from manager.store import sql
from manager.store.db import PeerWriteRow

# Run once or twice per delivered write: written once (sql.py), not built by peewee each
# time. One statement, so atomic on its own.
_RECORD = (
    'INSERT INTO "peer_write" ("peer", "user_id", "item_id", "stamp", "observed_at", '
    '"written_at") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT ("peer", "user_id", "item_id") '
    'DO UPDATE SET "stamp" = excluded."stamp", "observed_at" = excluded."observed_at", '
    '"written_at" = excluded."written_at"'
)
_STAMPS = (
    'SELECT "item_id", "stamp", "observed_at" FROM "peer_write" WHERE "peer" = ? AND '
    '"user_id" = ? AND "item_id" IN ({}) AND "stamp" IS NOT NULL'
)

_STAMPS_FOR = (
    'SELECT "peer", "item_id", "stamp", "observed_at" FROM "peer_write" WHERE "user_id" = ? '
    'AND "stamp" IS NOT NULL'
)


def record(
    peer: str, user_id: UserId, item_id: str, stamp: int | None, observed_at: float, at: float
) -> None:
    # int and float as peewee's fields stored them.
    stamp = None if stamp is None else int(stamp)
    sql.run(_RECORD, [peer, user_id, item_id, stamp, float(observed_at), float(at)])


def landed_over(peer: str, user_id: UserId, item_ids: list[str], at: float) -> bool:
    """Whether one of our writes there to these items landed after `at`: decided before
    the change made there at `at` was known, it may have undone it."""
    return (
        PeerWriteRow.select()
        .where(
            (PeerWriteRow.peer == peer)
            & (PeerWriteRow.user_id == user_id)
            & (PeerWriteRow.item_id.in_(item_ids))
            & (PeerWriteRow.written_at > at)
        )
        .exists()
    )


def stamps_by_item(peer: str, user_id: UserId, item_ids: list[str]) -> dict[str, tuple[int, float]]:
    """item id → (stamp, change time) of our writes there to these items (an item, its
    season, its show: a show-level write stamps each episode it marks)."""
    if not item_ids:
        return {}
    found = sql.run(_STAMPS.format(sql.marks(len(item_ids))), [peer, user_id, *item_ids])
    return {str(item): (int(stamp), float(at)) for item, stamp, at in found}


def stamps_for(user_id: UserId) -> dict[str, dict[str, tuple[int, float]]]:
    """peer → item id → (stamp, change time) of each of the user's writes that left one.
    A full sync reads this once per user: about one row per write of the first run, so no
    peewee model per row, and by peer, not by (peer, item) pairs: at 100 000 items a user
    has tens of thousands, and a pair for each was a fifth of their memory."""
    by_peer: dict[str, dict[str, tuple[int, float]]] = {}
    for peer, item, stamp, at in sql.run(_STAMPS_FOR, [user_id]):
        mine = by_peer.get(peer)
        if mine is None:
            mine = by_peer[peer] = {}
        mine[str(item)] = (int(stamp), float(at))
    return by_peer
