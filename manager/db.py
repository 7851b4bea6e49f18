"""Durable state: peewee models on SQLite (WAL, default) or PostgreSQL (by DSN).

All database work runs on one dedicated thread (`DbRunner`), so the asyncio loop never
blocks on disk and SQLite sees a single connection. The tables:

- `Meta`: small key/value facts (the manager's stable X-Plex-Client-Identifier).
- `EventRecord`: every event id ever accepted, with its payload until processed: the
  idempotency table and the inbox that survives a restart.
- `LedgerEntry`: per (user, item identity) the newest known state and when it was observed
  at its source (see ledger.py).
- `OutboxEntry`: writes still to deliver, one row per (peer, user, item) (see outbox.py).
- `SyncRun`: one row per full sync, for status and for the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import connect

database_proxy = peewee.DatabaseProxy()
T = TypeVar("T")


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy


class Meta(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()

    class Meta:
        table_name = "meta"


class EventRecord(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=128)
    # The raw event until it is processed; cleared afterwards (it holds a user's token).
    payload = peewee.TextField(null=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    received_at = peewee.DoubleField(index=True)
    processed_at = peewee.DoubleField(null=True)
    outcome = peewee.CharField(max_length=32, null=True)

    class Meta:
        table_name = "event"


class LedgerEntry(BaseModel):
    user_id = peewee.CharField(max_length=64)
    user_name = peewee.CharField(max_length=255, default="")
    identity_key = peewee.CharField(max_length=512)
    kind = peewee.CharField(max_length=16, default="")  # movie, episode, show, season
    title = peewee.CharField(max_length=512, default="")
    played = peewee.BooleanField(null=True)  # None: not known, only a position was seen
    view_offset_ms = peewee.BigIntegerField(null=True)
    duration_ms = peewee.BigIntegerField(null=True)
    observed_at = peewee.DoubleField()  # when the change happened at its source (epoch s)
    source_server = peewee.CharField(max_length=64)
    event_id = peewee.CharField(max_length=128, null=True)
    change = peewee.CharField(max_length=16)  # played, unplayed, resume
    updated_at = peewee.DoubleField()

    class Meta:
        table_name = "ledger"
        indexes = ((("user_id", "identity_key"), True),)


class LedgerAlias(BaseModel):
    """Every key a ledger entry's item is known by, so any server's view of it finds it."""

    user_id = peewee.CharField(max_length=64)
    key = peewee.CharField(max_length=512)
    entry_id = peewee.IntegerField(index=True)

    class Meta:
        table_name = "ledger_alias"
        indexes = ((("user_id", "key"), True),)


class OutboxEntry(BaseModel):
    peer = peewee.CharField(max_length=64)
    user_id = peewee.CharField(max_length=64)
    user_name = peewee.CharField(max_length=255, default="")
    user_kind = peewee.CharField(max_length=16, default="")
    identity_key = peewee.CharField(max_length=512)
    action = peewee.CharField(max_length=16)  # scrobble, unscrobble, resume
    rating_key = peewee.CharField(max_length=64)
    time_ms = peewee.BigIntegerField(null=True)
    duration_ms = peewee.BigIntegerField(null=True)
    title = peewee.CharField(max_length=512, default="")
    observed_at = peewee.DoubleField()
    origin = peewee.CharField(max_length=16, default="event")  # event, sync
    event_id = peewee.CharField(max_length=128, null=True)
    unscrobble_first = peewee.BooleanField(default=False)
    # Bumped on every coalescing update so a delivery that finishes late never deletes a
    # newer state that arrived while it was in flight.
    version = peewee.IntegerField(default=1)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DoubleField(index=True)
    created_at = peewee.DoubleField()
    updated_at = peewee.DoubleField()
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "outbox"
        indexes = ((("peer", "user_id", "identity_key"), True),)


class SyncRun(BaseModel):
    kind = peewee.CharField(max_length=16, default="full")
    started_at = peewee.DoubleField()
    finished_at = peewee.DoubleField(null=True)
    ok = peewee.BooleanField(null=True)
    summary = peewee.TextField(null=True)  # JSON

    class Meta:
        table_name = "sync_run"


MODELS: tuple[type[BaseModel], ...] = (
    Meta,
    EventRecord,
    LedgerEntry,
    LedgerAlias,
    OutboxEntry,
    SyncRun,
)


def _sqlite_path(dsn: str) -> str | None:
    parts = urlsplit(dsn)
    if parts.scheme != "sqlite":
        return None
    # sqlite:///relative.db -> "relative.db"; sqlite:////abs/path.db -> "/abs/path.db"
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return None if path in ("", ":memory:") else path


def open_database(dsn: str) -> peewee.Database:
    """Connect, create tables, bind the models. SQLite files are created 0600 (tokens)."""
    path = _sqlite_path(dsn)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        db: peewee.Database = peewee.SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",  # durable across process crashes in WAL mode
                "busy_timeout": 5000,
                "foreign_keys": 1,
                # Cleared payloads (client tokens) are overwritten with zeros, not just
                # unlinked: a copy of the file must not hold them (see scrub_log).
                "secure_delete": 1,
            },
            check_same_thread=False,
        )
    else:
        try:
            db = connect(dsn)
        except ImportError as exc:  # psycopg2 is the optional "postgres" extra
            raise RuntimeError(
                f"database driver missing for {urlsplit(dsn).scheme}: "
                "install plex-cluster[postgres]"
            ) from exc
    database_proxy.initialize(db)
    _scrub.update(wanted=False, at=0.0)
    db.connect(reuse_if_open=True)
    db.create_tables(MODELS, safe=True)
    if path is not None:
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o600)
    return db


def meta_get_or_create(key: str, factory: Callable[[], str]) -> str:
    row = Meta.get_or_none(Meta.key == key)
    if row is not None:
        return str(row.value)
    value = factory()
    Meta.insert(key=key, value=value).on_conflict_ignore().execute()
    return str(Meta.get(Meta.key == key).value)


def client_identifier() -> str:
    """The manager's stable X-Plex-Client-Identifier, kept across restarts."""
    return meta_get_or_create("client_identifier", lambda: f"plex-cluster-{uuid.uuid4().hex}")


class DbRunner:
    """Runs database calls on one thread, awaited from asyncio.

    The database is opened on that thread too, so there is exactly one connection.
    """

    def __init__(self, dsn: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self.db: peewee.Database = self._pool.submit(open_database, dsn).result()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking form, for code outside the event loop (CLI, tests)."""
        return self._pool.submit(fn, *args).result()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args))

    def close(self) -> None:
        self._pool.submit(self.db.close).result(timeout=10)
        self._pool.shutdown(wait=True)


def now() -> float:
    return time.time()


# -- inbox: accepted events, durable until processed --------------------------------------
def store_events(items: list[tuple[str, str]], at: float) -> list[bool]:
    """Insert (id, payload) rows; per item True if new, False if the id was seen before."""
    fresh: list[bool] = []
    with database_proxy.atomic():
        for event_id, payload in items:
            if EventRecord.select().where(EventRecord.id == event_id).exists():
                fresh.append(False)
                continue
            EventRecord.insert(
                id=event_id, payload=payload, status="pending", received_at=at
            ).on_conflict_ignore().execute()
            fresh.append(True)
    return fresh


def pending_events(limit: int, exclude: list[str]) -> list[tuple[str, str]]:
    query = EventRecord.select(EventRecord.id, EventRecord.payload).where(
        EventRecord.status == "pending"
    )
    if exclude:
        query = query.where(EventRecord.id.not_in(exclude))
    rows = [
        (str(r.id), str(r.payload or ""))
        for r in query.order_by(EventRecord.received_at).limit(limit)
    ]
    if not rows:
        scrub_log()  # the worker is idle: a good moment
    return rows


def finish_event(event_id: str, outcome: str, at: float) -> None:
    EventRecord.update(status="done", payload=None, outcome=outcome[:32], processed_at=at).where(
        EventRecord.id == event_id
    ).execute()
    _scrub["wanted"] = True


# Emptying SQLite's write-ahead log (scrub_log): wanted once a payload was cleared, done when
# the inbox is idle, at most every SCRUB_MIN_INTERVAL s (a checkpoint syncs the file: not
# once per event in a burst), at the latest SCRUB_MAX_DELAY s after it was wanted.
SCRUB_MIN_INTERVAL = 2.0
SCRUB_MAX_DELAY = 60.0
_scrub: dict[str, Any] = {"wanted": False, "at": 0.0}


def scrub_log() -> bool:
    """Fold the write-ahead log into the database and truncate it, if that is due.

    secure_delete zeroes a cleared payload in its page, but the log still holds the page
    as it was when the event arrived, token included, until the log is overwritten. Called
    by the event worker's idle poll (pending_events); True if it ran. PostgreSQL keeps no
    such file we could hand out.
    """
    db = database_proxy.obj
    if not _scrub["wanted"] or not isinstance(db, peewee.SqliteDatabase):
        return False
    since = time.monotonic() - _scrub["at"]
    if since < SCRUB_MIN_INTERVAL:
        return False
    busy = EventRecord.select().where(EventRecord.status == "pending").exists()
    if busy and since < SCRUB_MAX_DELAY:
        return False
    # A failure (another process holding the database) only means: next time.
    with contextlib.suppress(peewee.DatabaseError):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _scrub.update(wanted=False, at=time.monotonic())
    return True


def count_pending_events() -> int:
    return int(EventRecord.select().where(EventRecord.status == "pending").count())


def prune_events(older_than: float) -> int:
    """Forget processed event ids after a while (proxies do not retry for days)."""
    return int(
        EventRecord.delete()
        .where((EventRecord.status == "done") & (EventRecord.received_at < older_than))
        .execute()
    )


def last_sync() -> dict[str, Any] | None:
    row = SyncRun.select().order_by(SyncRun.started_at.desc()).first()
    if row is None:
        return None
    return {
        "kind": row.kind,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "ok": row.ok,
        "summary": row.summary,
    }
