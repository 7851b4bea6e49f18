"""A copy of the spool files holds no client token once its events are delivered.

Real SQLite files, read byte by byte: spool.sqlite3, its -wal and -shm. Before, deleted
rows (delivered, or dropped heartbeats) stayed readable in the write-ahead log.
"""

from __future__ import annotations

from pathlib import Path

from addons.spool import SPOOL_FILE, Spool
from manager.event import PlaybackEvent


def _files(data_dir: Path) -> bytes:
    path = data_dir / SPOOL_FILE
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _event(n: int, kind: str = "scrobble", state: str | None = None) -> PlaybackEvent:
    return PlaybackEvent(
        kind=kind,
        state=state,
        rating_key=str(n),
        token=f"SpoolTok{n:03d}secretXYZ",
        upstream_url="http://127.0.0.1:32400",
    )


def test_delivered_and_dropped_events_leave_no_token(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=4)
    try:
        heartbeats = [_event(n, "timeline", "playing") for n in range(4)]
        for e in heartbeats:
            spool.put(e)
        stopped = _event(9, "timeline", "stopped")
        assert spool.put(stopped).dropped == 1  # the oldest heartbeat made room
        for row in spool.peek():
            spool.delete(row.seq)  # what the delivery loop does after a 2xx
        assert spool.peek() == []  # and then it looks for more, finds none
        assert spool.count() == 0
        leaked = [e.token for e in [*heartbeats, stopped] if e.token.encode() in _files(tmp_path)]
        assert leaked == []
    finally:
        spool.close()
