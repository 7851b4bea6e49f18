"""fullsync/handoff.py: a sync's writes carry the state its run read; once the listing is
old (a large library's writes go out over minutes) the items are read again in batches,
never one read per write."""

from __future__ import annotations

from pathlib import Path

import pytest

from manager.fullsync import handoff
from tests.fullsync.test_engine_fake import T1, sync
from tests.support.fake_server import FakeCluster, fake_cluster


def two_films_watched_on_alpha() -> FakeCluster:
    """alice watched Heat and Jaws on alpha long ago: a sync writes both to beta."""
    cluster = fake_cluster()
    alpha = cluster.api("alpha")
    alpha.clock = lambda: T1
    alpha.mark("alice", alpha.find("Heat"), True)
    alpha.mark("alice", alpha.find("Jaws"), True)
    return cluster


def test_a_young_listing_is_handed_over_as_read(tmp_path: Path) -> None:
    cluster = two_films_watched_on_alpha()
    beta = cluster.api("beta")
    assert sync(cluster, tmp_path).ok
    assert beta.batch_reads == []
    # No read before writing; one after the first write, for its stamp (the peer's clock).
    assert len(beta.item_reads) == 1


def test_an_old_listing_is_read_again_a_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "MAX_AGE_S", -1.0)  # every listing counts as old
    cluster = two_films_watched_on_alpha()
    beta = cluster.api("beta")
    assert sync(cluster, tmp_path).ok
    assert beta.seen("alice", beta.find("Heat")) == (True, 0)
    assert beta.seen("alice", beta.find("Jaws")) == (True, 0)
    assert [(u, sorted(ids)) for u, ids in beta.batch_reads] == [
        ("alice", sorted([beta.find("Heat"), beta.find("Jaws")]))
    ]
    assert len(beta.item_reads) == 1  # the stamp of the first write only
