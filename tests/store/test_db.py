"""The event inbox (idempotency) and small database helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

from manager.store import db, inbox, lease
from manager.store.db import DbRunner, EventRow, SyncRunRow


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
