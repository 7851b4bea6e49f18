"""A copy of the database files holds no client token once its events are processed.

Real SQLite files, read byte by byte: the database, its write-ahead log and its index.
Before, the payloads cleared by `finish_event` were still in the `-wal` file (and, after
a checkpoint, in the free space of the database's pages).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manager.event import PlaybackEvent
from manager.store import db, inbox
from manager.store.runner import DbRunner


def _files(path: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _event(n: int) -> PlaybackEvent:
    return PlaybackEvent(
        kind="scrobble",
        rating_key=str(n),
        token=f"ClientTok{n:03d}secretXYZ",
        upstream_url="http://127.0.0.1:32400",
    )


@pytest.fixture(autouse=True)
def _no_pause_between_scrubs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SCRUB_MIN_INTERVAL", 0.0)  # each test scrubs from a clean slate


def test_processed_events_leave_no_token_in_any_database_file(tmp_path: Path) -> None:
    path = tmp_path / "manager.db"
    runner = DbRunner(f"sqlite:///{path}")
    events = [_event(n) for n in range(6)]
    try:
        runner.call(inbox.store_events, [(e.id, e.to_json()) for e in events], 1.0)
        assert all(e.token.encode() in _files(path) for e in events)  # stored, durably
        for e in events:
            runner.call(inbox.finish_event, e.id, "queued", 2.0)
        assert runner.call(inbox.pending_events, 10, []) == []  # the event worker's idle poll
        leaked = [e.token for e in events if e.token.encode() in _files(path)]
        assert leaked == []  # while the manager runs: what a backup copy would get
    finally:
        runner.close()
    leaked = [e.token for e in events if e.token.encode() in _files(path)]
    assert leaked == []


def test_a_pruned_event_leaves_nothing_either(tmp_path: Path) -> None:
    path = tmp_path / "manager.db"
    runner = DbRunner(f"sqlite:///{path}")
    try:
        keep, drop = _event(1), _event(2)
        runner.call(inbox.store_events, [(keep.id, keep.to_json()), (drop.id, drop.to_json())], 1.0)
        runner.call(inbox.finish_event, drop.id, "queued", 2.0)
        runner.call(inbox.prune_events, 5.0)
        runner.call(inbox.finish_event, keep.id, "queued", 3.0)
        assert runner.call(inbox.pending_events, 10, []) == []
        assert keep.token.encode() not in _files(path)
        assert drop.token.encode() not in _files(path)
    finally:
        runner.close()
