"""The writer and the stamps its writes leave (servers/peer_clock.py): the first write on a
peer reads the item back for its stamp and learns the peer's clock; the next ones, within a
minute, predict the stamp instead, and a predicted stamp still never passes for a newer
change."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from manager.model import Change
from manager.servers.models import MOVIE, MediaItem
from manager.servers.peer_clock import MAX_AGE_S
from manager.servers.recent import ReadState
from manager.store import ledger, peer_writes
from manager.store.ledger import Observation
from manager.store.outbox import Verdict, Write
from tests.realtime.test_handler import Parts, run
from tests.realtime.test_writer_recent import deliver, note_unplayed, sync_write


async def stamp_of(p: Parts, peer: str, user: str, item_id: str) -> int | None:
    user_id = p.cluster.directory.people[user].id
    stamps = await p.writer.runner.run(peer_writes.stamps_by_item, peer, user_id, [item_id])
    return stamps[item_id][0] if item_id in stamps else None


def test_one_read_back_per_peer_then_predicted_stamps(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        beta.clock = lambda: time.time() + 3_600  # an hour ahead of ours
        first = sync_write(p, "alice", "Heat", "beta", time.time() - 30)
        second = sync_write(p, "alice", "Jaws", "beta", time.time() - 30)
        assert await deliver(p, first) is Verdict.DELIVERED
        assert await deliver(p, second) is Verdict.DELIVERED
        # Both items were read before writing (nothing recent), the first once more after.
        assert [i for _, i in beta.item_reads] == [first.item_id, first.item_id, second.item_id]
        for w in (first, second):
            held = beta.state[("alice", w.item_id)].last_played_at
            assert held is not None
            assert abs((await stamp_of(p, "beta", "alice", w.item_id) or 0) - held) <= 1

    run(tmp_path, body)


def test_a_clock_learned_over_a_minute_ago_is_read_again(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        first = sync_write(p, "alice", "Heat", "beta", time.time() - 30)
        assert await deliver(p, first) is Verdict.DELIVERED
        p.cluster.server("beta").clock.learned_at -= MAX_AGE_S + 1
        second = sync_write(p, "alice", "Jaws", "beta", time.time() - 30)
        assert await deliver(p, second) is Verdict.DELIVERED
        assert [i for _, i in beta.item_reads].count(second.item_id) == 2

    run(tmp_path, body)


def test_a_predicted_stamp_does_not_pass_for_a_newer_change(tmp_path: Path) -> None:
    """Our played mark of a change made 300 s ago leaves today's stamp on beta; a change
    made 200 s ago (unplayed), delivered next, must still be written over it."""

    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        beta.clock = lambda: time.time() + 100  # a little ahead of ours
        learn = sync_write(p, "bob", "Heat", "beta", time.time() - 30)
        assert await deliver(p, learn) is Verdict.DELIVERED  # learns beta's clock
        played = sync_write(p, "alice", "Jaws", "beta", time.time() - 300)
        assert await deliver(p, played) is Verdict.DELIVERED
        reads = len(beta.item_reads)
        assert reads == 2 + 1  # bob: before and after; alice: before only
        # Seen from beta, our mark is newer than the change below: only our stamp says not.
        unplayed = replace(played, change=Change.UNPLAYED, observed_at=time.time() - 200)
        assert await deliver(p, unplayed) is Verdict.DELIVERED
        assert beta.seen("alice", played.item_id) == (False, 0)

    run(tmp_path, body)


async def _played_on_a_clock_ahead(p: Parts) -> Write:
    """alice's Jaws marked played on beta by a sync write of a change made 300 s ago,
    after beta's clock (100 s ahead of ours) was learned: its stamp looks newer."""
    p.cluster.api("beta").clock = lambda: time.time() + 100
    learn = sync_write(p, "bob", "Heat", "beta", time.time() - 30)
    assert await deliver(p, learn) is Verdict.DELIVERED  # learns beta's clock
    played = sync_write(p, "alice", "Jaws", "beta", time.time() - 300)
    assert await deliver(p, played) is Verdict.DELIVERED
    return played


def test_an_item_read_again_still_has_its_date_explained_by_our_stamp(tmp_path: Path) -> None:
    """The sync read the item with no date, so the writer did not look up our stamps; the
    ledger then learned of a newer change and the item is read again, now dated by our
    earlier write (beta's clock runs ahead): our stamp must still explain that date."""

    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        played = await _played_on_a_clock_ahead(p)
        read_at = time.time()
        unplayed = replace(played, change=Change.UNPLAYED, observed_at=read_at - 200)
        note_unplayed(p, unplayed, read_at)
        # The ledger learns of a newer unplayed (recorded here: an event would have its
        # own write reach beta first).
        newer = Observation(
            unplayed.user_id, unplayed.identity_key, Change.UNPLAYED, read_at + 1, "alpha"
        )
        assert await p.writer.runner.run(ledger.record, newer)
        reads = len(beta.item_reads)
        assert await deliver(p, unplayed) is Verdict.DELIVERED
        assert len(beta.item_reads) == reads + 1  # read again, as the ledger moved on
        assert beta.seen("alice", played.item_id) == (False, 0)

    run(tmp_path, body)


def test_an_item_the_sync_read_with_our_stamp_is_still_written(tmp_path: Path) -> None:
    """The sync read the item played, dated by our own earlier write (beta's clock runs
    ahead); a newer unplayed, delivered from that read, must still be written."""

    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        played = await _played_on_a_clock_ahead(p)
        stamp = await stamp_of(p, "beta", "alice", played.item_id)
        assert stamp is not None and stamp > time.time() + 50
        # The read begins in the second after our write: one in the same second counts as
        # after the read (servers/recent.py), and the writer would read the item itself.
        await asyncio.sleep(1.01 - time.time() % 1.0)
        read_at = time.time()
        item = MediaItem(id=played.item_id, kind=MOVIE, title="Jaws", played=True)
        item.last_played_at = stamp
        p.cluster.server("beta").recent.note(played.user_id, item.id, ReadState(item, read_at))
        unplayed = replace(played, change=Change.UNPLAYED, observed_at=read_at - 200)
        reads = len(beta.item_reads)
        assert await deliver(p, unplayed) is Verdict.DELIVERED
        assert len(beta.item_reads) == reads  # the sync's read was used
        assert beta.seen("alice", played.item_id) == (False, 0)

    run(tmp_path, body)
