"""Our writes on peers, remembered (store/peer_writes.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from manager.model import UserId
from manager.store import peer_writes
from manager.store.runner import DbRunner

ALICE, BOB = UserId("plex:1"), UserId("plex:2")


def on_db(dsn: str, fn: Any, *args: Any) -> Any:
    runner = DbRunner(dsn)
    try:
        return asyncio.run(runner.run(fn, *args))
    finally:
        runner.close()


def test_a_users_stamps_are_read_back_for_each_peer_and_item(dsn: str) -> None:
    def remember() -> None:
        peer_writes.record("beta", ALICE, "10", 1_700_000_500, 1_700_000_100.5, 1_700_000_501.0)
        peer_writes.record("gamma", ALICE, "10", 1_700_000_600, 1_700_000_100.5, 1_700_000_601.0)
        peer_writes.record("beta", ALICE, "11", None, 1_700_000_200.0, 1_700_000_502.0)
        peer_writes.record("beta", BOB, "10", 1_700_000_700, 1_700_000_300.0, 1_700_000_701.0)
        # A later write to the same item replaces the earlier one's stamp.
        peer_writes.record("gamma", ALICE, "10", 1_700_000_900, 1_700_000_800.0, 1_700_000_901.0)

    on_db(dsn, remember)
    stamps = on_db(dsn, peer_writes.stamps_for, ALICE)
    # A write that left no stamp (an unplayed mark) is not there, nor is Bob's.
    assert stamps == {
        "beta": {"10": (1_700_000_500, 1_700_000_100.5)},
        "gamma": {"10": (1_700_000_900, 1_700_000_800.0)},
    }
    assert on_db(dsn, peer_writes.stamps_by_item, "beta", BOB, ["10", "11"]) == {
        "10": (1_700_000_700, 1_700_000_300.0)
    }
    assert on_db(dsn, peer_writes.stamps_for, UserId("plex:3")) == {}
