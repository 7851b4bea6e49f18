"""The outbox table: what a write is, insert-or-coalesce, take what is due, finish or
reschedule.

Run on the database thread (`DbRunner.run`) by the `Outbox` dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from peewee import fn

from manager.model import Change, ItemKey, UserId
from manager.store import sql
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

# The statements run per write (upsert, due, finish, reschedule, defer) are written once
# (sql.py), not built by peewee each time, which cost far more than running them.
_STORED = [*_WRITE_FIELDS, "parents"]
_COLUMN = {n: OutboxRow._meta.fields[n].column_name for n in _STORED}  # change: "action"
_COLS = sql.columns(list(_COLUMN.values()))
_CONFLICT = 'ON CONFLICT ("peer", "user_id", "identity_key") DO UPDATE SET '
# On conflict the waiting row takes the new values (excluded: the row we tried to insert).
_TAKE = {n: f'"{c}" = excluded."{c}"' for n, c in _COLUMN.items()}
# A resume point never undoes a waiting "played"; after a waiting "unplayed" (or one that
# asks for it) it marks the item unplayed first. Parameters: played, played; unplayed,
# True, True.
_RESUME_TAKE = {
    **_TAKE,
    "change": '"action" = CASE WHEN ("outbox"."action" = ?) THEN ? ELSE excluded."action" END',
    "unscrobble_first": '"unscrobble_first" = CASE WHEN (("outbox"."action" = ?) OR '
    '("outbox"."unscrobble_first" = ?)) THEN ? ELSE excluded."unscrobble_first" END',
}
_AGAIN = (
    '"version" = ("outbox"."version" + 1), "attempts" = 0, '
    '"next_attempt_at" = excluded."next_attempt_at", "updated_at" = excluded."updated_at", '
    '"last_error" = NULL WHERE ("outbox"."observed_at" <= excluded."observed_at")'
)
_INSERT = (
    f'INSERT INTO "outbox" ({_COLS}, "version", "attempts", "next_attempt_at", "created_at", '
    f'"updated_at") VALUES ({sql.marks(len(_STORED) + 5)}) {_CONFLICT}'
)
_UPSERT = _INSERT + ", ".join(_TAKE.values()) + ", " + _AGAIN
_UPSERT_RESUME = _INSERT + ", ".join(_RESUME_TAKE.values()) + ", " + _AGAIN
_RESUME_PARAMS = [Change.PLAYED.value, Change.PLAYED.value, Change.UNPLAYED.value, True, True]
_SEND_AGAIN = (
    'UPDATE "outbox" SET "version" = ("version" + 1), "attempts" = 0, "next_attempt_at" = ?, '
    '"updated_at" = ? WHERE "peer" = ? AND "user_id" = ? AND "identity_key" = ?'
)
_DUE = f'SELECT "id", "version", "attempts", {_COLS} FROM "outbox" WHERE "next_attempt_at" <= ?'
_FINISH = 'DELETE FROM "outbox" WHERE "id" = ? AND "version" = ?'
_RESCHEDULE = (
    'UPDATE "outbox" SET "attempts" = ("attempts" + 1), "next_attempt_at" = ?, "last_error" = ? '
    'WHERE "id" = ? AND "version" = ?'
)
_DEFER = (
    'UPDATE "outbox" SET "next_attempt_at" = ?, "last_error" = ? WHERE "id" = ? AND "version" = ?'
)


def _opt(convert: Any, value: Any) -> Any:
    return None if value is None else convert(value)


def _values(w: Write) -> list[Any]:
    """The row's stored values in _STORED's order, as peewee's fields stored them."""
    return [
        str(w.peer), str(w.user_id), str(w.identity_key), Change(w.change).value,
        str(w.item_id), float(w.observed_at), str(w.user_name), str(w.user_kind),
        _opt(int, w.time_ms), _opt(int, w.duration_ms), w.title[:512], str(w.origin),
        _opt(str, w.event_id), bool(w.unscrobble_first), " ".join(w.parent_keys),
    ]  # fmt: skip


def upsert(writes: Sequence[Write], at: float) -> int:
    """Insert or coalesce, one statement per write; returns how many rows changed.

    INSERT … ON CONFLICT (peer, user_id, identity_key) DO UPDATE … WHERE the stored state
    is not newer: SQLite ≥ 3.24 and PostgreSQL both run it as one atomic step. Coalescing
    follows the rule the full sync decides by, not arrival: a resume point never undoes a
    waiting "played" (it stays played, as of the newer time), and one after a waiting
    "unplayed" marks the item unplayed first.
    """
    changed = 0
    at = float(at)
    with database_proxy.atomic():
        for w in writes:
            row = [*_values(w), 1, 0, at, at, at]
            if w.change is Change.RESUME:
                cursor = sql.run(_UPSERT_RESUME, [*row, *_RESUME_PARAMS])
            else:
                cursor = sql.run(_UPSERT, row)
            if cursor.rowcount > 0:
                changed += cursor.rowcount
                continue
            # A newer write waits already: it stays, but goes out (again) now, since the
            # writer brings the peer to what the ledger says, which this change may alter
            # (a late "played" under a newer resume point).
            sql.run(_SEND_AGAIN, [at, at, w.peer, w.user_id, w.identity_key])
    return changed


def due(
    at: float, exclude_ids: Sequence[int], exclude_peers: Sequence[str], limit: int
) -> list[Attempt]:
    text, params = _DUE, [float(at)]
    if exclude_ids:
        text += f' AND "id" NOT IN ({sql.marks(len(exclude_ids))})'
        params += list(exclude_ids)
    if exclude_peers:
        text += f' AND "peer" NOT IN ({sql.marks(len(exclude_peers))})'
        params += list(exclude_peers)
    text += ' ORDER BY "next_attempt_at", "id" LIMIT ?'
    return [_attempt(values) for values in sql.run(text, [*params, int(limit)])]


def _attempt(values: Sequence[Any]) -> Attempt:
    row_id, version, attempts, *stored = values
    w = dict(zip(_STORED, stored, strict=True))
    w["change"] = Change.parse(w["change"])
    # SQLite keeps a boolean as 0/1: peewee's BooleanField turned it back, so do we.
    w["unscrobble_first"] = bool(w["unscrobble_first"])
    parents = tuple(ItemKey(k) for k in str(w.pop("parents") or "").split())
    return Attempt(
        row_id=int(row_id),
        version=int(version),
        attempts=int(attempts),
        write=Write(**w, parent_keys=parents),
    )


def next_due(exclude_ids: Sequence[int], exclude_peers: Sequence[str]) -> float | None:
    query = OutboxRow.select(OutboxRow.next_attempt_at)
    if exclude_ids:
        query = query.where(OutboxRow.id.not_in(list(exclude_ids)))
    if exclude_peers:
        query = query.where(OutboxRow.peer.not_in(list(exclude_peers)))
    row = query.order_by(OutboxRow.next_attempt_at).first()
    return float(row.next_attempt_at) if row is not None else None


def finish(d: Attempt) -> None:
    sql.run(_FINISH, [d.row_id, d.version])


def reschedule(d: Attempt, at: float, error: str) -> None:
    sql.run(_RESCHEDULE, [float(at), error[:1000], d.row_id, d.version])


def defer(d: Attempt, at: float, why: str) -> None:
    """Not now, and no failure either: the attempt count stays."""
    sql.run(_DEFER, [float(at), why[:1000], d.row_id, d.version])


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


@dataclass(frozen=True, slots=True)
class Waiting:
    """A row as the dashboard lists it: the write, and where its delivery stands."""

    row_id: int
    write: Write
    attempts: int
    next_attempt_at: float
    created_at: float
    last_error: str | None


def listing(limit: int) -> list[Waiting]:
    """The rows that have failed first (most attempts), then the oldest waiting."""
    query = (
        OutboxRow.select()
        .order_by(OutboxRow.attempts.desc(), OutboxRow.created_at, OutboxRow.id)
        .limit(limit)
    )
    out = []
    for row in query:
        values = [getattr(row, name) for name in _STORED]
        attempt = _attempt([row.id, row.version, row.attempts, *values])
        out.append(
            Waiting(
                row_id=attempt.row_id,
                write=attempt.write,
                attempts=attempt.attempts,
                next_attempt_at=float(row.next_attempt_at),
                created_at=float(row.created_at),
                last_error=row.last_error,
            )
        )
    return out


def due_at(row_ids: Sequence[int] | None, at: float) -> int:
    """Make rows due at `at` (None: every row); how many were changed."""
    query = OutboxRow.update(next_attempt_at=at).where(OutboxRow.next_attempt_at > at)
    if row_ids is not None:
        query = query.where(OutboxRow.id.in_(list(row_ids)))
    return int(query.execute())


def peers_of(row_ids: Sequence[int]) -> set[str]:
    query = OutboxRow.select(OutboxRow.peer).where(OutboxRow.id.in_(list(row_ids))).distinct()
    return {row.peer for row in query}
