"""The event inbox (idempotency) and small database helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from manager.model import ItemKey, UserId
from manager.store import db, inbox, lease, ledger
from manager.store.db import EventRow, SyncRunRow
from manager.store.runner import DbRunner


def test_event_ids_are_stored_once_and_finished(runner: DbRunner) -> None:
    fresh = runner.call(inbox.store_events, [("a", "{1}"), ("b", "{2}"), ("a", "{1}")], 100.0)
    assert fresh == [True, True, False]
    assert runner.call(inbox.store_events, [("b", "{2}")], 101.0) == [False]
    assert runner.call(inbox.pending_events, 10, []) == [("a", "{1}"), ("b", "{2}")]
    assert runner.call(inbox.pending_events, 10, ["a"]) == [("b", "{2}")]
    assert runner.call(inbox.count_pending_events) == 2
    runner.call(inbox.finish_event, "a", "queued", 102.0)
    assert runner.call(inbox.pending_events, 10, []) == [("b", "{2}")]
    # The payload (it holds a Plex token) is gone once processed; the id stays.
    row = runner.call(lambda: EventRow.get_by_id("a"))
    assert (row.payload, row.status, row.outcome) == (None, "done", "queued")
    assert runner.call(inbox.store_events, [("a", "{1}")], 103.0) == [False]
    assert runner.call(inbox.prune_events, 101.0) == 1
    assert runner.call(inbox.store_events, [("a", "{1}")], 104.0) == [True]


def test_client_identifier_is_stable_and_last_sync(runner: DbRunner) -> None:
    first = runner.call(db.client_identifier)
    assert first.startswith("plex-cluster-") and runner.call(db.client_identifier) == first
    assert runner.call(lease.last_run) is None
    runner.call(lambda: SyncRunRow.create(started_at=1.0, finished_at=2.0, ok=True, summary="{}"))
    runner.call(lambda: SyncRunRow.create(started_at=5.0, finished_at=None, ok=None))
    last = runner.call(lease.last_run)
    assert last is not None and last["started_at"] == 5.0 and last["ok"] is None


def test_a_database_from_an_earlier_version_gets_the_columns_added_since(tmp_path: Path) -> None:
    """The outbox and ledger an upgrade finds are kept: missing columns are added."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "create table ledger (id integer primary key, user_id varchar(64) not null,"
            " user_name varchar(255), identity_key varchar(512) not null, kind varchar(16),"
            " title varchar(512), played integer, view_offset_ms integer, duration_ms integer,"
            " observed_at real not null, source_server varchar(64) not null,"
            " event_id varchar(128), change varchar(16) not null, updated_at real not null)"
        )
        conn.execute(
            "insert into ledger (user_id, identity_key, played, observed_at, source_server,"
            " change, updated_at) values ('7', 'movie:imdb://tt1', 1, 100, 'alpha', 'played', 1)"
        )
    runner = DbRunner(f"sqlite:///{path}")
    try:
        state = runner.call(ledger.get, UserId("7"), ItemKey("movie:imdb://tt1"))
        assert state is not None and state.played and state.flag_at == 100.0
        columns = runner.call(lambda: [c.name for c in runner.db.get_columns("ledger")])
        assert "flag_at" in columns
    finally:
        runner.close()
