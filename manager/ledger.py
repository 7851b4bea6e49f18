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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from manager.db import LedgerAlias, LedgerEntry, database_proxy, now

ChangeKind = Literal["played", "unplayed", "resume"]
CHANGES: frozenset[str] = frozenset({"played", "unplayed", "resume"})


@dataclass(frozen=True, slots=True)
class LedgerState:
    user_id: str
    identity_key: str
    played: bool | None
    view_offset_ms: int | None
    duration_ms: int | None
    observed_at: float
    source_server: str
    change: str
    kind: str
    title: str

    @staticmethod
    def of(row: LedgerEntry) -> LedgerState:
        return LedgerState(
            user_id=str(row.user_id),
            identity_key=str(row.identity_key),
            played=row.played,
            view_offset_ms=row.view_offset_ms,
            duration_ms=row.duration_ms,
            observed_at=float(row.observed_at),
            source_server=str(row.source_server),
            change=str(row.change),
            kind=str(row.kind),
            title=str(row.title),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One change to record: what happened to whom, where and when."""

    user_id: str
    identity_key: str
    change: ChangeKind
    observed_at: float
    source_server: str
    offset_ms: int | None = None
    duration_ms: int | None = None
    user_name: str = ""
    kind: str = ""
    title: str = ""
    event_id: str | None = None
    # Other keys the same item is known by (guids.identity_keys after the first): servers
    # using different agents share only some ids, and the record must be found from each.
    aliases: tuple[str, ...] = ()


def _row(user_id: str, keys: Sequence[str]) -> LedgerEntry | None:
    """The entry known by the first of `keys` that has one (best key first)."""
    known = {
        str(a.key): int(a.entry_id)
        for a in LedgerAlias.select().where(
            (LedgerAlias.user_id == user_id) & (LedgerAlias.key.in_(list(keys)))
        )
    }
    entry_id = next((known[k] for k in keys if k in known), None)
    if entry_id is not None:
        return LedgerEntry.get_or_none(LedgerEntry.id == entry_id)
    # An entry written without its aliases is still found by its own key.
    rows = {
        str(r.identity_key): r
        for r in LedgerEntry.select().where(
            (LedgerEntry.user_id == user_id) & (LedgerEntry.identity_key.in_(list(keys)))
        )
    }
    return next((rows[k] for k in keys if k in rows), None)


def _remember_keys(user_id: str, entry_id: int, keys: Sequence[str]) -> None:
    for key in dict.fromkeys(keys):
        LedgerAlias.insert(
            user_id=user_id, key=key, entry_id=entry_id
        ).on_conflict_ignore().execute()


def get(user_id: str, identity_key: str, *aliases: str) -> LedgerState | None:
    row = _row(user_id, [identity_key, *aliases])
    return LedgerState.of(row) if row is not None else None


def for_user(user_id: str) -> Iterator[LedgerState]:
    query = LedgerEntry.select().where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)
    for row in query.iterator():
        yield LedgerState.of(row)


def record(obs: Observation) -> bool:
    """Store `obs` unless a newer change is already known. True when stored."""
    if obs.change not in CHANGES:
        raise ValueError(f"unknown change {obs.change!r}")
    with database_proxy.atomic():
        row = _row(obs.user_id, [obs.identity_key, *obs.aliases])
        if row is not None and float(row.observed_at) > obs.observed_at:
            return False
        played: bool | None = row.played if row is not None else None
        offset: int | None = row.view_offset_ms if row is not None else None
        if obs.change == "played":
            played, offset = True, None
        elif obs.change == "unplayed":
            played, offset = False, None
        else:
            offset = obs.offset_ms
        values = {
            "user_name": obs.user_name,
            "kind": obs.kind,
            "title": obs.title[:512],
            "played": played,
            "view_offset_ms": offset,
            "duration_ms": obs.duration_ms
            if obs.duration_ms is not None
            else (row.duration_ms if row is not None else None),
            "observed_at": obs.observed_at,
            "source_server": obs.source_server,
            "event_id": obs.event_id,
            "change": obs.change,
            "updated_at": now(),
        }
        if row is None:
            entry_id = LedgerEntry.insert(
                user_id=obs.user_id, identity_key=obs.identity_key, **values
            ).execute()
        else:
            entry_id = row.id
            LedgerEntry.update(**values).where(LedgerEntry.id == row.id).execute()
        _remember_keys(obs.user_id, int(entry_id), [obs.identity_key, *obs.aliases])
    return True
