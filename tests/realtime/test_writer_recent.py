"""The writer and the full sync's recent reads (servers/recent.py): a sync write uses the
state its run just read instead of reading it again, but never once that state may have
changed: after one of our own writes there, or a change the ledger learned of since."""

from __future__ import annotations

import time
from pathlib import Path

from manager.model import Change, Outcome
from manager.servers.identity import identity_keys
from manager.servers.models import MOVIE, MediaItem
from manager.servers.recent import ReadState
from manager.store.outbox import Attempt, Verdict, Write
from tests.realtime.test_handler import Parts, run


def sync_write(p: Parts, user: str, title: str, peer: str, observed_at: float) -> Write:
    server = p.cluster.server(peer)
    item = server.index.item(p.cluster.key(peer, title))
    assert item is not None
    return Write(
        peer=peer,
        user_id=p.cluster.directory.people[user].id,
        identity_key=identity_keys(server.index.identity(item))[0],
        change=Change.PLAYED,
        item_id=item.id,
        observed_at=observed_at,
        user_name=user,
        origin="sync",
    )


def note_unplayed(p: Parts, w: Write, at: float) -> None:
    """What the sync read at `at`: the write's item unplayed for its user on its peer."""
    item = MediaItem(id=w.item_id, kind=MOVIE, title=w.title)
    p.cluster.server(w.peer).recent.note(w.user_id, w.item_id, ReadState(item, at))


async def deliver(p: Parts, w: Write) -> Verdict:
    return (await p.writer.deliver(Attempt(row_id=0, version=0, attempts=0, write=w))).verdict


def test_a_fresh_read_is_used_instead_of_reading_again(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        w = sync_write(p, "alice", "Heat", "beta", time.time() - 30)
        note_unplayed(p, w, time.time())
        assert await deliver(p, w) is Verdict.DELIVERED
        assert beta.writes == [("alice", "played", w.item_id, None)]
        # One read: the stamp our write left, after it; none before it.
        assert beta.item_reads == [("alice", w.item_id)]

    run(tmp_path, body)


def test_a_read_taken_before_our_own_write_there_is_not_trusted(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        read_at = time.time()
        # A mark made before the sync read alice's Heat on beta as unplayed, but reported
        # late (its proxy was away), reaches beta after the read: the ledger's change is
        # older than the read, so only our own write says beta's state moved on…
        late = p.event("alice", "Heat", "scrobble", seen_at=read_at - 10)
        assert await p.handle(late) is Outcome.QUEUED
        beta = p.cluster.api("beta")
        w = sync_write(p, "alice", "Heat", "beta", read_at - 30)
        assert beta.writes == [("alice", "played", w.item_id, None)]
        # …and only then does the sync leave what it read, and queue its own write.
        note_unplayed(p, w, read_at)
        assert await deliver(p, w) is Verdict.SKIPPED
        assert beta.redundant == []

    run(tmp_path, body)


def test_a_change_the_ledger_learned_of_after_the_read_is_read_again(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        read_at = time.time() - 5
        beta = p.cluster.api("beta")
        # alice marks Heat played on beta itself after the read; its proxy reports it.
        beta.mark("alice", beta.find("Heat"), True)
        assert await p.handle(p.event("alice", "Heat", "scrobble", server="beta"))
        w = sync_write(p, "alice", "Heat", "beta", read_at - 30)
        note_unplayed(p, w, read_at)
        assert await deliver(p, w) is Verdict.SKIPPED
        assert beta.writes == [] and beta.redundant == []

    run(tmp_path, body)


def test_a_stale_read_is_read_again(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        heat = beta.find("Heat")
        beta.mark("alice", heat, True)  # by hand, no proxy: nothing tells the ledger
        w = sync_write(p, "alice", "Heat", "beta", time.time() - 300)
        note_unplayed(p, w, time.time() - 120)
        assert await deliver(p, w) is Verdict.SKIPPED
        assert beta.redundant == [] and beta.item_reads == [("alice", heat)]

    run(tmp_path, body)
