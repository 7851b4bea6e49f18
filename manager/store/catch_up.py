"""Peers that real-time events had to skip, and for whom: kept until a catch-up sync has
brought the peer up to date, across restarts. Run on the database thread."""

from __future__ import annotations

from collections.abc import Iterable

from manager.model import UserId
from manager.store.db import CatchUpRow, database_proxy


def mark(peer: str, user_id: UserId) -> None:
    CatchUpRow.insert(peer=peer, user_id=user_id).on_conflict_ignore().execute()


def done(peer: str, user_ids: Iterable[UserId]) -> None:
    with database_proxy.atomic():
        CatchUpRow.delete().where(
            (CatchUpRow.peer == peer) & (CatchUpRow.user_id.in_(list(user_ids)))
        ).execute()


def pending() -> dict[str, set[UserId]]:
    """peer → the users it owes a catch-up."""
    out: dict[str, set[UserId]] = {}
    for row in CatchUpRow.select():
        out.setdefault(str(row.peer), set()).add(UserId(str(row.user_id)))
    return out
