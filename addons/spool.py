"""The local event spool: SQLite through peewee, written before the hook returns.

WAL with synchronous=NORMAL: a commit survives the process being killed (SIGKILL) without an
fsync per event; only a power cut can lose the last few. Events hold client tokens, so the
database and its directory are private to the proxy's user (0600 / 0700).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from manager.event import PlaybackEvent

SPOOL_FILE = "spool.sqlite3"

# When the spool is full, heartbeats go first: each is superseded by the next one. Events
# that change what a user sees elsewhere (scrobble, unscrobble, stopped) are never dropped.
DROP_ORDER: tuple[tuple[str, str], ...] = (
    ("timeline", "playing"),
    ("timeline", "buffering"),
    ("timeline", "paused"),
    ("progress", "playing"),
    ("progress", "buffering"),
    ("progress", "paused"),
)


class SpoolWriteError(Exception):
    """Nothing of the write was stored: disk full, I/O error, database locked or damaged."""


def _cause(exc: BaseException) -> BaseException:
    # When a commit fails, SQLite has already rolled the transaction back; peewee's own
    # ROLLBACK then fails with "no transaction is active" and hides the real error.
    while "no transaction is active" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    return exc


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    event_id: str
    kind: str
    state: str | None
    body: str


@dataclass(frozen=True, slots=True)
class PutResult:
    dropped: int
    over_cap: bool


def private_dir(path: Path) -> bool:
    """Create `path` 0700, or make it 0700 if it exists with wider rights and is ours.

    mkdir's mode applies only to a directory it creates, and mitmproxy creates the data
    directory first (0755 by umask) when confdir lies inside it. True if it was changed.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        os.chmod(path, 0o700)
        return True
    return False


def _private_file(path: Path) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Spool:
    def __init__(self, data_dir: Path, max_events: int = 100_000) -> None:
        self.path = data_dir / SPOOL_FILE
        self.max_events = max_events
        self.scrub_min_interval = 2.0
        self._scrub_wanted = False
        self._scrubbed_at = -self.scrub_min_interval
        _private_file(self.path)
        self.db = peewee.SqliteDatabase(
            str(self.path),
            # secure_delete: a delivered event's token is overwritten, not just unlinked.
            pragmas={
                "journal_mode": "wal",
                "synchronous": 1,
                "busy_timeout": 10_000,
                "secure_delete": 1,
            },
            check_same_thread=False,
        )

        class Row(peewee.Model):
            seq = peewee.AutoField()
            event_id = peewee.CharField(unique=True)
            kind = peewee.CharField()
            state = peewee.CharField(null=True)
            body = peewee.TextField()
            created = peewee.FloatField()

            class Meta:
                database = self.db
                table_name = "spooled_event"
                indexes = ((("kind", "state"), False),)

        self.Row: Any = Row
        # peewee keeps one connection per thread (autoconnect): the hook's writer thread and
        # the delivery thread each reuse theirs instead of reconnecting per event.
        self.db.create_tables([Row], safe=True)

    def put(self, event: PlaybackEvent) -> PutResult:
        """Store one event durably. Safe to call from any thread.

        Raises SpoolWriteError when the database refuses the write; then nothing was stored
        and the calling thread's connection is closed (the next call opens a clean one).
        """
        Row = self.Row
        body = event.to_json()
        try:
            # IMMEDIATE: take the write lock up front. A deferred transaction that reads
            # first and then writes fails at once with "database is locked" (WAL snapshot
            # upgrade, no busy wait) whenever the delivery thread deleted a row in between.
            with self.db.atomic("IMMEDIATE"):
                dropped, over = self._make_room()
                Row.insert(
                    event_id=event.id,
                    kind=event.kind,
                    state=event.state,
                    body=body,
                    created=time.time(),
                ).on_conflict_ignore().execute()
        except (peewee.DatabaseError, OSError) as exc:
            cause = _cause(exc)
            with contextlib.suppress(Exception):  # a connection past closing cleanly
                self.close()
            raise SpoolWriteError(f"{type(cause).__name__}: {cause}") from exc
        return PutResult(dropped=dropped, over_cap=over)

    def _make_room(self) -> tuple[int, bool]:
        Row = self.Row
        lo, hi = Row.select(peewee.fn.MIN(Row.seq), peewee.fn.MAX(Row.seq)).scalar(as_tuple=True)
        # count <= hi - lo + 1, so the common case costs two index lookups, not a scan.
        if lo is None or hi - lo + 1 < self.max_events:
            return 0, False
        excess = Row.select().count() - self.max_events + 1
        dropped = 0
        for kind, state in DROP_ORDER:
            if excess <= dropped:
                break
            oldest = (
                Row.select(Row.seq)
                .where((Row.kind == kind) & (Row.state == state))
                .order_by(Row.seq)
                .limit(excess - dropped)
            )
            dropped += Row.delete().where(Row.seq.in_(oldest)).execute()
        return dropped, excess > dropped

    def peek(self, limit: int = 50) -> list[Spooled]:
        Row = self.Row
        rows = Row.select().order_by(Row.seq).limit(limit).tuples()
        out = [Spooled(seq=r[0], event_id=r[1], kind=r[2], state=r[3], body=r[4]) for r in rows]
        if not out and self._scrub_wanted:
            self._scrub()
        return out

    def delete(self, seq: int) -> None:
        Row = self.Row
        Row.delete().where(Row.seq == seq).execute()
        self._scrub_wanted = True

    def _scrub(self) -> None:
        """The write-ahead log still holds the rows as written, tokens included: once
        nothing is left to deliver, fold it into the database and truncate it. At most
        every scrub_min_interval s: a checkpoint syncs the file and holds up the writer,
        so not after every event of a burst (the delivery loop's next idle peek does it)."""
        now = time.monotonic()
        if now - self._scrubbed_at < self.scrub_min_interval:
            return
        with contextlib.suppress(peewee.DatabaseError):  # failing now: the next idle peek
            self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self._scrub_wanted, self._scrubbed_at = False, now

    def count(self) -> int:
        return int(self.Row.select().count())

    def close(self) -> None:
        """Close the calling thread's connection (each thread closes its own)."""
        if not self.db.is_closed():
            self.db.close()
