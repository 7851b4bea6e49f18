"""The full sync's lock (a lease row in `MetaRow`) and its run log (`SyncRunRow`).

One full sync at a time, whether scheduled, a catch-up or from the CLI, across processes
sharing the database: the lease names its holder and expires unless renewed, so a crashed
holder does not block the next sync for long. Run on the database thread.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from manager.store.db import MetaRow, SyncRunRow

LEASE_KEY = "full_sync_lease"


def _lease_value(owner: str, until: float) -> str:
    return json.dumps(
        {"owner": owner, "until": until, "host": socket.gethostname(), "pid": os.getpid()}
    )


def acquire(owner: str, ttl: float) -> str | None:
    """Take (or renew) the lease; None when taken, else a description of the holder."""
    now = time.time()
    row = MetaRow.get_or_none(MetaRow.key == LEASE_KEY)
    if row is None:
        MetaRow.insert(
            key=LEASE_KEY, value=_lease_value(owner, now + ttl)
        ).on_conflict_ignore().execute()
    else:
        try:
            held = json.loads(row.value)
        except ValueError:
            held = {}
        if float(held.get("until", 0)) > now and held.get("owner") != owner:
            return f"{held.get('host')}:{held.get('pid')} until {time.ctime(float(held['until']))}"
        # Compare-and-set: of two takers racing, only one update matches the old value.
        MetaRow.update(value=_lease_value(owner, now + ttl)).where(
            (MetaRow.key == LEASE_KEY) & (MetaRow.value == row.value)
        ).execute()
    mine = MetaRow.get_or_none(MetaRow.key == LEASE_KEY)
    if mine is not None and json.loads(mine.value).get("owner") == owner:
        return None
    return "another process (just now)"


def holder() -> str | None:
    """Who holds the lease now (None: free); a peek, for callers that would rather wait."""
    row = MetaRow.get_or_none(MetaRow.key == LEASE_KEY)
    if row is None:
        return None
    try:
        held = json.loads(row.value)
    except ValueError:
        return None
    if float(held.get("until", 0)) <= time.time():
        return None
    return f"{held.get('host')}:{held.get('pid')}"


def release(owner: str) -> None:
    row = MetaRow.get_or_none(MetaRow.key == LEASE_KEY)
    if row is not None and json.loads(row.value).get("owner") == owner:
        MetaRow.delete().where((MetaRow.key == LEASE_KEY) & (MetaRow.value == row.value)).execute()


def run_started(at: float, reason: str, kind: str = "full") -> int:
    return int(SyncRunRow.insert(kind=f"{kind}:{reason}"[:16], started_at=at).execute())


def last_good_start() -> float | None:
    """When the newest sync that ended well (full, or of changes only) started. An import
    (manager/transfer) read one server and a file: no evidence of what changed elsewhere."""
    row = (
        SyncRunRow.select(SyncRunRow.started_at)
        .where(SyncRunRow.ok == True)  # noqa: E712 (peewee builds SQL from ==)
        .where(~SyncRunRow.kind.startswith("import:"))
        .order_by(SyncRunRow.started_at.desc())
        .first()
    )
    return float(row.started_at) if row is not None else None


def run_finished(run_id: int, at: float, ok: bool, summary: str) -> None:
    SyncRunRow.update(finished_at=at, ok=ok, summary=summary).where(
        SyncRunRow.id == run_id
    ).execute()


def last_run() -> dict[str, Any] | None:
    row = SyncRunRow.select().order_by(SyncRunRow.started_at.desc()).first()
    if row is None:
        return None
    return {
        "kind": row.kind,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "ok": row.ok,
        "summary": row.summary,
    }


def recent_runs(limit: int) -> list[dict[str, Any]]:
    """The newest runs first, as `last_run` gives one (the summary still JSON text)."""
    query = SyncRunRow.select().order_by(SyncRunRow.started_at.desc()).limit(limit)
    return [
        {
            "kind": row.kind,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "ok": row.ok,
            "summary": row.summary,
        }
        for row in query
    ]
