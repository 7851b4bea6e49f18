"""Durable state: peewee models on SQLite (WAL, default) or PostgreSQL (by DSN).

All database work runs on one dedicated thread (`DbRunner`), so the asyncio loop never
blocks on disk and SQLite sees a single connection. The tables, one module each for the
work on them:

- `MetaRow`: small key/value facts (the manager's stable client identifier, the full-sync
  lease: lease.py).
- `EventRow`: every event id ever accepted, with its payload until processed: the
  idempotency table and the inbox that survives a restart (inbox.py).
- `LedgerRow` and `LedgerAliasRow`: per (user, item) the newest known state and when it was
  observed at its source (ledger.py).
- `OutboxRow`: writes still to deliver, one row per (peer, user, item) (outbox_rows.py).
- `SyncRunRow`: one row per full sync, for status and for the scheduler (lease.py).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate

database_proxy = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy


class MetaRow(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()

    class Meta:
        table_name = "meta"


class EventRow(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=128)
    # The raw event until it is processed; cleared afterwards (it holds a user's token).
    payload = peewee.TextField(null=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    received_at = peewee.DoubleField(index=True)
    processed_at = peewee.DoubleField(null=True)
    outcome = peewee.CharField(max_length=32, null=True)

    class Meta:
        table_name = "event"


class LedgerRow(BaseModel):
    user_id = peewee.CharField(max_length=64)
    user_name = peewee.CharField(max_length=255, default="")
    identity_key = peewee.CharField(max_length=512)
    kind = peewee.CharField(max_length=16, default="")  # movie, episode, show, season
    title = peewee.CharField(max_length=512, default="")
    played = peewee.BooleanField(null=True)  # None: not known, only a position was seen
    view_offset_ms = peewee.BigIntegerField(null=True)
    duration_ms = peewee.BigIntegerField(null=True)
    observed_at = peewee.DoubleField()  # when the change happened at its source (epoch s)
    # When `played` was last decided (by played or unplayed; a resume point keeps it): a
    # late "played" older than a newer resume point still decides it (ledger.py).
    flag_at = peewee.DoubleField(null=True)
    source_server = peewee.CharField(max_length=64)
    event_id = peewee.CharField(max_length=128, null=True)
    change = peewee.CharField(max_length=16)  # played, unplayed, resume
    updated_at = peewee.DoubleField()

    class Meta:
        table_name = "ledger"
        # The second: a full sync asks, per 500 records, what real-time changes came in
        # since it read the user (changed_since); without it that scans all their rows.
        indexes = ((("user_id", "identity_key"), True), (("user_id", "updated_at"), False))


class LedgerAliasRow(BaseModel):
    """Every key a ledger entry's item is known by, so any server's view of it finds it."""

    user_id = peewee.CharField(max_length=64)
    key = peewee.CharField(max_length=512)
    entry_id = peewee.IntegerField(index=True)

    class Meta:
        table_name = "ledger_alias"
        indexes = ((("user_id", "key"), True),)


class LedgerParentRow(BaseModel):
    """The show and season keys of a ledger entry's item: finds an episode's changes from
    its show or season (a show-level write must not undo a newer episode-level one)."""

    user_id = peewee.CharField(max_length=64)
    key = peewee.CharField(max_length=512)
    entry_id = peewee.IntegerField()

    class Meta:
        table_name = "ledger_parent"
        indexes = ((("user_id", "key", "entry_id"), True),)


class OutboxRow(BaseModel):
    peer = peewee.CharField(max_length=64)
    user_id = peewee.CharField(max_length=64)
    user_name = peewee.CharField(max_length=255, default="")
    user_kind = peewee.CharField(max_length=16, default="")
    identity_key = peewee.CharField(max_length=512)
    # A Change (played, unplayed, resume; earlier versions wrote scrobble, unscrobble).
    change = peewee.CharField(max_length=16, column_name="action")
    item_id = peewee.CharField(max_length=64, column_name="rating_key")  # the peer's id
    time_ms = peewee.BigIntegerField(null=True)
    duration_ms = peewee.BigIntegerField(null=True)
    title = peewee.CharField(max_length=512, default="")
    observed_at = peewee.DoubleField()
    origin = peewee.CharField(max_length=16, default="event")  # event, sync
    event_id = peewee.CharField(max_length=128, null=True)
    unscrobble_first = peewee.BooleanField(default=False)
    # The keys of the item's show and season, space-separated: a newer show-level change in
    # the ledger speaks for an episode's write too.
    parents = peewee.TextField(default="")
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


class PeerWriteRow(BaseModel):
    """Our last write to a peer for a user and item: when it landed, the time of the change
    it replayed, and the `last_played_at` the peer stamped on it (peer_writes.py)."""

    peer = peewee.CharField(max_length=64)
    user_id = peewee.CharField(max_length=64)
    item_id = peewee.CharField(max_length=64)
    stamp = peewee.BigIntegerField(null=True)
    observed_at = peewee.DoubleField()
    written_at = peewee.DoubleField()

    class Meta:
        table_name = "peer_write"
        indexes = ((("peer", "user_id", "item_id"), True), (("user_id",), False))


class CatchUpRow(BaseModel):
    """A (peer, user) whose events skipped the peer while it could not be read: a catch-up
    sync brings it up to date once it answers, also after a restart (catch_up.py)."""

    peer = peewee.CharField(max_length=64)
    user_id = peewee.CharField(max_length=64)

    class Meta:
        table_name = "catch_up"
        indexes = ((("peer", "user_id"), True),)


class SyncRunRow(BaseModel):
    kind = peewee.CharField(max_length=16, default="full")
    started_at = peewee.DoubleField()
    finished_at = peewee.DoubleField(null=True)
    ok = peewee.BooleanField(null=True)
    summary = peewee.TextField(null=True)  # JSON

    class Meta:
        table_name = "sync_run"


MODELS: tuple[type[BaseModel], ...] = (
    MetaRow,
    EventRow,
    LedgerRow,
    LedgerAliasRow,
    LedgerParentRow,
    OutboxRow,
    PeerWriteRow,
    CatchUpRow,
    SyncRunRow,
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
    _add_missing_columns(db)
    if path is not None:
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o600)
    return db


def _add_missing_columns(db: peewee.Database) -> None:
    """A database made by an earlier version lacks columns added since: add them (every
    added column has a default), so an upgrade keeps the outbox and ledger it had."""
    migrator = SchemaMigrator.from_database(db)
    for model in MODELS:
        table = model._meta.table_name
        present = {c.name for c in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
        if missing:
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))


def meta_get_or_create(key: str, factory: Callable[[], str]) -> str:
    row = MetaRow.get_or_none(MetaRow.key == key)
    if row is not None:
        return str(row.value)
    value = factory()
    MetaRow.insert(key=key, value=value).on_conflict_ignore().execute()
    return str(MetaRow.get(MetaRow.key == key).value)


def client_identifier() -> str:
    """The manager's stable client identifier (Plex: X-Plex-Client-Identifier), kept
    across restarts."""
    return meta_get_or_create("client_identifier", lambda: f"plex-cluster-{uuid.uuid4().hex}")


def now() -> float:
    return time.time()


# Emptying SQLite's write-ahead log (scrub_log): wanted once a payload was cleared, done when
# the inbox is idle, at most every SCRUB_MIN_INTERVAL s (a checkpoint syncs the file: not
# once per event in a burst), at the latest SCRUB_MAX_DELAY s after it was wanted.
SCRUB_MIN_INTERVAL = 2.0
SCRUB_MAX_DELAY = 60.0
_scrub: dict[str, Any] = {"wanted": False, "at": 0.0}


def scrub_wanted() -> None:
    """A client token was cleared from a row: empty the write-ahead log soon."""
    _scrub["wanted"] = True


def scrub_log(busy: bool) -> bool:
    """Fold the write-ahead log into the database and truncate it, if that is due.

    secure_delete zeroes a cleared payload in its page, but the log still holds the page
    as it was when the event arrived, token included, until the log is overwritten. Called
    by the event worker's idle poll (inbox.pending_events; `busy`: events still pending);
    True if it ran. PostgreSQL keeps no such file we could hand out.
    """
    db = database_proxy.obj
    if not _scrub["wanted"] or not isinstance(db, peewee.SqliteDatabase):
        return False
    since = time.monotonic() - _scrub["at"]
    if since < SCRUB_MIN_INTERVAL:
        return False
    if busy and since < SCRUB_MAX_DELAY:
        return False
    # A failure (another process holding the database) only means: next time.
    with contextlib.suppress(peewee.DatabaseError):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _scrub.update(wanted=False, at=time.monotonic())
    return True
