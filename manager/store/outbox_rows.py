"""The outbox table: what a write is, insert-or-coalesce, take what is due, finish or
reschedule.

Run on the database thread (`DbRunner.run`) by the `Outbox` dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from peewee import Case, fn

from manager.model import Change, ItemKey, UserId
from manager.store.db import OutboxRow, database_proxy


@dataclass(frozen=True, slots=True)
class Write:
    """One decided write: bring `peer`'s state of an item to `change` for one user."""

    peer: str
    user_id: UserId
    identity_key: ItemKey
    change: Change
    item_id: str  # the item's id on the peer
    observed_at: float  # when the change happened at its source
    user_name: str = ""
    user_kind: str = ""
    time_ms: int | None = None
    duration_ms: int | None = None
    title: str = ""
    origin: str = "event"  # event | sync
    event_id: str | None = None
    # For a resume point on an item the user has watched there: mark it unplayed first so
    # it reads as in progress (the full sync asks for this).
    unscrobble_first: bool = False
    # The item's show and season keys (an episode's): the ledger's newer show-level change
    # decides what the peer should hold.
    parent_keys: tuple[ItemKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Attempt:
    """A write as taken from the outbox, with its row identity and attempt count."""

    row_id: int
    version: int
    attempts: int
    write: Write


_WRITE_FIELDS = [f.name for f in fields(Write) if f.name != "parent_keys"]


def upsert(writes: Sequence[Write], at: float) -> int:
    """Insert or coalesce, one statement per write; returns how many rows changed.

    INSERT … ON CONFLICT (peer, user_id, identity_key) DO UPDATE … WHERE the stored state
    is not newer: SQLite ≥ 3.24 and PostgreSQL both run it as one atomic step. Coalescing
    follows the rule the full sync decides by, not arrival: a resume point never undoes a
    waiting "played" (it stays played, as of the newer time), and one after a waiting
    "unplayed" marks the item unplayed first.
    """
    changed = 0
    with database_proxy.atomic():
        for w in writes:
            values: dict[str, Any] = {name: getattr(w, name) for name in _WRITE_FIELDS}
            values["change"] = Change(w.change).value
            values["title"] = w.title[:512]
            values["parents"] = " ".join(w.parent_keys)
            replace = {getattr(OutboxRow, name): value for name, value in values.items()}
            if w.change is Change.RESUME:
                replace[OutboxRow.change] = Case(
                    None,
                    [(OutboxRow.change == Change.PLAYED.value, Change.PLAYED.value)],
                    w.change.value,
                )
                unplayed_first = (OutboxRow.change == Change.UNPLAYED.value) | (
                    OutboxRow.unscrobble_first == True  # noqa: E712 - a SQL expression
                )
                replace[OutboxRow.unscrobble_first] = Case(
                    None, [(unplayed_first, True)], w.unscrobble_first
                )
            replace.update(
                {
                    OutboxRow.version: OutboxRow.version + 1,
                    OutboxRow.attempts: 0,
                    OutboxRow.next_attempt_at: at,
                    OutboxRow.updated_at: at,
                    OutboxRow.last_error: None,
                }
            )
            query = OutboxRow.insert(
                **values, version=1, attempts=0, next_attempt_at=at, created_at=at, updated_at=at
            ).on_conflict(
                conflict_target=[OutboxRow.peer, OutboxRow.user_id, OutboxRow.identity_key],
                update=replace,
                where=(OutboxRow.observed_at <= w.observed_at),
            )
            cursor = database_proxy.execute(query)
            if cursor.rowcount > 0:
                changed += cursor.rowcount
                continue
            # A newer write waits already: it stays, but goes out (again) now, since the
            # writer brings the peer to what the ledger says, which this change may alter
            # (a late "played" under a newer resume point).
            OutboxRow.update(
                version=OutboxRow.version + 1, attempts=0, next_attempt_at=at, updated_at=at
            ).where(
                (OutboxRow.peer == w.peer)
                & (OutboxRow.user_id == w.user_id)
                & (OutboxRow.identity_key == w.identity_key)
            ).execute()
    return changed


def due(
    at: float, exclude_ids: Sequence[int], exclude_peers: Sequence[str], limit: int
) -> list[Attempt]:
    query = OutboxRow.select().where(OutboxRow.next_attempt_at <= at)
    if exclude_ids:
        query = query.where(OutboxRow.id.not_in(list(exclude_ids)))
    if exclude_peers:
        query = query.where(OutboxRow.peer.not_in(list(exclude_peers)))
    rows = query.order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit)
    return [
        Attempt(
            row_id=row.id,
            version=row.version,
            attempts=row.attempts,
            write=_write(row),
        )
        for row in rows
    ]


def _write(row: OutboxRow) -> Write:
    values = {name: getattr(row, name) for name in _WRITE_FIELDS}
    values["change"] = Change.parse(values["change"])
    parents = tuple(ItemKey(k) for k in str(row.parents or "").split())
    return Write(**values, parent_keys=parents)


def next_due(exclude_ids: Sequence[int], exclude_peers: Sequence[str]) -> float | None:
    query = OutboxRow.select(OutboxRow.next_attempt_at)
    if exclude_ids:
        query = query.where(OutboxRow.id.not_in(list(exclude_ids)))
    if exclude_peers:
        query = query.where(OutboxRow.peer.not_in(list(exclude_peers)))
    row = query.order_by(OutboxRow.next_attempt_at).first()
    return float(row.next_attempt_at) if row is not None else None


def finish(d: Attempt) -> None:
    OutboxRow.delete().where(
        (OutboxRow.id == d.row_id) & (OutboxRow.version == d.version)
    ).execute()


def reschedule(d: Attempt, at: float, error: str) -> None:
    OutboxRow.update(
        attempts=OutboxRow.attempts + 1, next_attempt_at=at, last_error=error[:1000]
    ).where((OutboxRow.id == d.row_id) & (OutboxRow.version == d.version)).execute()


def defer(d: Attempt, at: float, why: str) -> None:
    """Not now, and no failure either: the attempt count stays."""
    OutboxRow.update(next_attempt_at=at, last_error=why[:1000]).where(
        (OutboxRow.id == d.row_id) & (OutboxRow.version == d.version)
    ).execute()


def due_now(peer: str, at: float) -> int:
    query = OutboxRow.update(next_attempt_at=at).where(
        (OutboxRow.peer == peer) & (OutboxRow.next_attempt_at > at)
    )
    return int(query.execute())


def count() -> int:
    return int(OutboxRow.select().count())


def count_by_peer() -> dict[str, int]:
    query = OutboxRow.select(OutboxRow.peer, fn.COUNT(OutboxRow.id).alias("n")).group_by(
        OutboxRow.peer
    )
    return {row.peer: int(row.n) for row in query}
