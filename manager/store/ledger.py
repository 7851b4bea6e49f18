"""The ledger: per (user, item identity) the newest known state and when it happened.

Events can arrive late (a proxy retries after an outage) and a full sync needs to know
which server's state is the newest. Plex does not keep the source's timestamp on API
writes, so the manager keeps its own clock here: `observed_at` is when the change was
seen at its source (the proxy's `seen_at`), never when the manager got round to it.

Rule: a change older than the stored one is refused (`record` returns False). Equal
times are accepted, so re-processing the same event after a crash is harmless.

The functions run on the database thread (`DbRunner.run(ledger.record, …)`); the full
sync uses `get`, `for_user` and `record` the same way as real-time events do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from manager.model import Change, ItemKey, UserId
from manager.store import sql
from manager.store.db import LedgerParentRow, LedgerRow, database_proxy, now

# A full sync records the state it decided with source_server "sync:<server>".
SYNC_SOURCE_PREFIX = "sync:"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What the ledger knows of one user's state of one item."""

    user_id: UserId
    identity_key: ItemKey
    played: bool | None
    view_offset_ms: int | None
    duration_ms: int | None
    observed_at: float
    source_server: str
    change: Change
    kind: str
    title: str
    flag_at: float | None = None  # when `played` was decided (None: not known)

    @staticmethod
    def of(row: LedgerRow | Stored) -> LedgerEntry:
        return LedgerEntry(
            user_id=UserId(str(row.user_id)),
            identity_key=ItemKey(str(row.identity_key)),
            played=row.played,
            view_offset_ms=row.view_offset_ms,
            duration_ms=row.duration_ms,
            observed_at=float(row.observed_at),
            source_server=str(row.source_server),
            change=Change.parse(str(row.change)),
            kind=str(row.kind),
            title=str(row.title),
            flag_at=_flag_time(row),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One change to record: what happened to whom, where and when."""

    user_id: UserId
    identity_key: ItemKey
    change: Change
    observed_at: float
    source_server: str
    offset_ms: int | None = None
    duration_ms: int | None = None
    user_name: str = ""
    kind: str = ""
    title: str = ""
    event_id: str | None = None
    # Other keys the same item is known by (identity_keys after the first): servers
    # using different agents share only some ids, and the record must be found from each.
    aliases: tuple[ItemKey, ...] = ()
    # The keys of its show and season (identity.parent_keys): a show-level change newer
    # than the item's own row says whether the item is played.
    parents: tuple[ItemKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Stored:
    """A ledger row as the hand-written queries below read it (the columns they need)."""

    id: int
    user_id: str
    identity_key: str
    kind: str
    title: str
    played: bool | None
    view_offset_ms: int | None
    duration_ms: int | None
    observed_at: float
    flag_at: float | None
    source_server: str
    change: str

    @staticmethod
    def of(values: Sequence[Any]) -> Stored:
        i, user, key, kind, title, played, offset, duration, at, flag_at, source, change = values
        # SQLite keeps a boolean as 0/1: peewee's BooleanField turns it back, so do we.
        return Stored(
            int(i), str(user), str(key), str(kind), str(title),
            None if played is None else bool(played), offset, duration, float(at),
            None if flag_at is None else float(flag_at), str(source), str(change),
        )  # fmt: skip


# The statements below run once or more per delivered write and per synced item: written
# once (sql.py) rather than built by peewee each time, which cost far more than running them.
_COLS = sql.columns([f.name for f in fields(Stored)], "ledger")
_BY_ALIAS = (
    f'SELECT "ledger_alias"."key", {_COLS} FROM "ledger_alias" '
    'LEFT JOIN "ledger" ON "ledger"."id" = "ledger_alias"."entry_id" '
    'WHERE "ledger_alias"."user_id" = ? AND "ledger_alias"."key" IN ({})'
)
_BY_KEY = f'SELECT {_COLS} FROM "ledger" WHERE "user_id" = ? AND "identity_key" IN ({{}})'
# By ids from the two unique indexes: a condition on the user's rows beside them (as in
# `user_id = ? AND (identity_key IN … OR id IN …)`) has SQLite walk all the user's rows,
# 1.6 ms a call at 20 000 of them against 11 µs this way.
_NEWEST_PARENT = (
    f'SELECT {_COLS} FROM "ledger" WHERE "ledger"."id" IN ('
    'SELECT "id" FROM "ledger" WHERE "user_id" = ? AND "identity_key" IN ({0}) UNION '
    'SELECT "ledger"."id" FROM "ledger_alias" JOIN "ledger" ON "ledger"."id" = '
    '"ledger_alias"."entry_id" AND "ledger"."user_id" = ? '
    'WHERE "ledger_alias"."user_id" = ? AND "ledger_alias"."key" IN ({0})) '
    'ORDER BY "ledger"."observed_at" DESC LIMIT 1'
)
_VALUES = (
    "user_name", "kind", "title", "played", "view_offset_ms", "duration_ms", "observed_at",
    "flag_at", "source_server", "event_id", "change", "updated_at",
)  # fmt: skip
_INSERT = (
    f'INSERT INTO "ledger" ("user_id", "identity_key", {sql.columns(_VALUES)}) '
    f"VALUES (?, ?, {sql.marks(len(_VALUES))})"
)
_UPDATE = 'UPDATE "ledger" SET {} WHERE "id" = ?'.format(", ".join(f'"{c}" = ?' for c in _VALUES))
_LATE_FLAG = 'UPDATE "ledger" SET "played" = ?, "flag_at" = ?, "updated_at" = ? WHERE "id" = ?'
# A key or parent already kept stays as it is (the unique index), as before.
_ADD_KEYS = (
    'INSERT INTO "ledger_alias" ("user_id", "key", "entry_id") VALUES {} ON CONFLICT DO NOTHING'
)
_ADD_PARENTS = (
    'INSERT INTO "ledger_parent" ("user_id", "key", "entry_id") VALUES {} ON CONFLICT DO NOTHING'
)


def _find(user_id: UserId, keys: Sequence[str]) -> tuple[Stored | None, set[str]]:
    """The entry known by the first of `keys` that has one (best key first), and which of
    `keys` already have an alias row (of any entry)."""
    if not keys:
        return None, set()  # IN () is not SQL; peewee's empty IN found nothing
    known: dict[str, Stored | None] = {}
    for values in sql.run(_BY_ALIAS.format(sql.marks(len(keys))), [user_id, *keys]):
        # No ledger row behind an alias (LEFT JOIN: NULL id) finds nothing, as before.
        known[str(values[0])] = Stored.of(values[1:]) if values[1] is not None else None
    for key in keys:
        if key in known:
            return known[key], set(known)
    # An entry written without its aliases is still found by its own key.
    rows = {
        row.identity_key: row
        for row in map(Stored.of, sql.run(_BY_KEY.format(sql.marks(len(keys))), [user_id, *keys]))
    }
    return next((rows[k] for k in keys if k in rows), None), set(known)


def _row(user_id: UserId, keys: Sequence[str]) -> Stored | None:
    """The entry known by the first of `keys` that has one (best key first)."""
    return _find(user_id, keys)[0]


def _remember_keys(
    user_id: UserId, entry_id: int, keys: Sequence[str], known: Collection[str] = ()
) -> None:
    """Alias rows for `keys`; `known`: keys that have one already (an insert of those
    would be ignored anyway), so none is sent for them."""
    new = [k for k in dict.fromkeys(keys) if k not in known]
    if new:
        rows = ", ".join(["(?, ?, ?)"] * len(new))
        sql.run(_ADD_KEYS.format(rows), [v for k in new for v in (user_id, k, entry_id)])


def _newest_parent(user_id: UserId, parents: Sequence[str]) -> Stored | None:
    """The newest row recorded for any of an item's show or season keys."""
    if not parents:
        return None
    found = sql.run(
        _NEWEST_PARENT.format(sql.marks(len(parents))),
        [user_id, *parents, user_id, user_id, *parents],
    ).fetchone()
    return Stored.of(found) if found is not None else None


def effective(
    user_id: UserId, keys: Sequence[ItemKey], parents: Sequence[ItemKey] = ()
) -> LedgerEntry | None:
    """What the ledger knows of the item known by `keys` (best first), with the newest
    show- or season-level change taken into account (see `with_parent`)."""
    row = _row(user_id, list(keys))
    own = LedgerEntry.of(row) if row is not None else None
    parent = _newest_parent(user_id, parents)
    return with_parent(own, LedgerEntry.of(parent) if parent is not None else None, keys[0])


def with_parent(
    own: LedgerEntry | None, parent: LedgerEntry | None, key: ItemKey
) -> LedgerEntry | None:
    """An item's own entry, unless a show- or season-level change is newer than its own
    played/unplayed: then that change decides played, and the own resume point counts
    only if it is newer still. Pure: the real-time writer and the full sync both use it."""
    if parent is None or parent.played is None:
        return own
    if own is not None and own.flag_at is not None and own.flag_at >= parent.observed_at:
        return own
    if own is None:
        return replace(
            parent, identity_key=key, view_offset_ms=None, duration_ms=None,
            flag_at=parent.observed_at,
        )  # fmt: skip
    later = own.observed_at > parent.observed_at
    return replace(
        own,
        played=parent.played,
        flag_at=parent.observed_at,
        view_offset_ms=own.view_offset_ms if later else None,
        observed_at=max(own.observed_at, parent.observed_at),
        source_server=own.source_server if later else parent.source_server,
        change=own.change if later else parent.change,
    )


def get(user_id: UserId, identity_key: ItemKey, *aliases: ItemKey) -> LedgerEntry | None:
    row = _row(user_id, [identity_key, *aliases])
    return LedgerEntry.of(row) if row is not None else None


_FOR_USER = f'SELECT {_COLS} FROM "ledger" WHERE "user_id" = ? ORDER BY "id"'
_REPEATED = [
    i for i, f in enumerate(fields(Stored)) if f.name in ("user_id", "kind", "source_server")
]


def for_user(user_id: UserId) -> Iterator[LedgerEntry]:
    """Every row of the user's, oldest first. A full sync holds them all at once (about one
    per item: 100 000 at that library size), so the strings every row repeats (the user,
    the kind, the server) are shared rather than one copy per row, and no peewee model is
    built per row."""
    shared: dict[Any, Any] = {}
    for values in sql.run(_FOR_USER, [user_id]):
        row = list(values)
        for i in _REPEATED:
            row[i] = shared.setdefault(row[i], row[i])
        yield LedgerEntry.of(Stored.of(row))


def _flag_time(row: LedgerRow | Stored) -> float | None:
    if row.flag_at is not None:
        return float(row.flag_at)
    # Rows from before flag_at was kept: their played was decided no later than the row.
    return float(row.observed_at) if row.played is not None else None


def record(obs: Observation) -> bool:
    """Store `obs` unless a newer change is already known. True when stored.

    Played and the resume point are dated apart: a "played" or "unplayed" that arrives
    after a newer resume point still decides played (the resume point never undid it),
    and leaves the newer resume point as it is.
    """
    change = Change(obs.change)
    with database_proxy.atomic():
        keys = [obs.identity_key, *obs.aliases]
        row, known = _find(obs.user_id, keys)
        parent = _newest_parent(obs.user_id, obs.parents)
        if (
            parent is not None
            and parent.played is not None
            and float(parent.observed_at) > obs.observed_at
        ):
            return False  # a later show- or season-level change decided it already
        if row is not None and float(row.observed_at) > obs.observed_at:
            return _late_flag(row, obs, change, known)
        played: bool | None = row.played if row is not None else None
        offset: int | None = row.view_offset_ms if row is not None else None
        flag_at: float | None = _flag_time(row) if row is not None else None
        if (
            parent is not None
            and parent.played is not None
            and (flag_at is None or float(parent.observed_at) > flag_at)
        ):
            # A show-level change after the item's own last played/unplayed decides
            # whether it is played: a resume point recorded now keeps that.
            played, flag_at = parent.played, float(parent.observed_at)
            if row is None or float(row.observed_at) < flag_at:
                offset = None
        if change is Change.PLAYED:
            played, offset, flag_at = True, None, obs.observed_at
        elif change is Change.UNPLAYED:
            played, offset, flag_at = False, None, obs.observed_at
        else:
            offset = obs.offset_ms
        # As peewee's fields would store them (int, float, the title's limit).
        duration = obs.duration_ms if obs.duration_ms is not None else (
            row.duration_ms if row is not None else None
        )  # fmt: skip
        values = [
            obs.user_name, obs.kind, obs.title[:512], played,
            None if offset is None else int(offset),
            None if duration is None else int(duration),
            float(obs.observed_at), None if flag_at is None else float(flag_at),
            obs.source_server, obs.event_id, change.value, now(),
        ]  # fmt: skip
        if row is None:
            entry_id = sql.insert(_INSERT, [obs.user_id, obs.identity_key, *values])
        else:
            entry_id = row.id
            sql.run(_UPDATE, [*values, row.id])
        _remember_keys(obs.user_id, entry_id, keys, known)
        _remember_parents(obs.user_id, entry_id, obs.parents)
    return True


def _remember_parents(user_id: UserId, entry_id: int, parents: Sequence[str]) -> None:
    new = list(dict.fromkeys(parents))
    if new:
        rows = ", ".join(["(?, ?, ?)"] * len(new))
        sql.run(_ADD_PARENTS.format(rows), [v for k in new for v in (user_id, k, entry_id)])


def changed_under(user_id: UserId, container: ItemKey, after: float) -> bool:
    """Whether an item of that show or season has a change of its own after `after`."""
    ids = LedgerParentRow.select(LedgerParentRow.entry_id).where(
        (LedgerParentRow.user_id == user_id) & (LedgerParentRow.key == container)
    )
    return (
        LedgerRow.select().where((LedgerRow.id.in_(ids)) & (LedgerRow.observed_at > after)).exists()
    )


def _late_flag(row: Stored, obs: Observation, change: Change, known: Collection[str]) -> bool:
    """A played/unplayed older than the row's newest change, but newer than its own last
    played/unplayed: it decides played; the newer resume point stays."""
    flag_at = _flag_time(row)
    if change is Change.RESUME or (flag_at is not None and flag_at >= obs.observed_at):
        return False
    sql.run(_LATE_FLAG, [change is Change.PLAYED, float(obs.observed_at), now(), row.id])
    _remember_keys(obs.user_id, row.id, [obs.identity_key, *obs.aliases], known)
    _remember_parents(obs.user_id, row.id, obs.parents)
    return True


def changed_since(user_id: UserId, since: float) -> list[ItemKey]:
    """Keys of the user's entries a real-time change (not a full sync) updated since then."""
    query = LedgerRow.select(LedgerRow.identity_key).where(
        (LedgerRow.user_id == user_id)
        & (LedgerRow.updated_at >= since)
        & ~(LedgerRow.source_server.startswith(SYNC_SOURCE_PREFIX))
    )
    return [ItemKey(str(row.identity_key)) for row in query]


def record_all(observations: Sequence[Observation]) -> None:
    """`record` each, in one transaction."""
    with database_proxy.atomic():
        for obs in observations:
            record(obs)
