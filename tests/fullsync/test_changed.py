"""A sync of changes only (fullsync/changed.py): after a run that ended well, read what
each user played or left a resume point in since, on every server, and only those items
elsewhere; decide them by the full sync's own rules."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fullsync.test_engine_fake import T1, sync
from tests.support.fake_server import FakeCluster, fake_cluster


def quiet_cluster() -> FakeCluster:
    """alice and the owner watched a film on alpha long ago; a first full run spreads it
    (every server's clock is in the past until a test moves one)."""
    cluster = fake_cluster()
    for name in ("alpha", "beta", "gamma"):
        cluster.api(name).clock = lambda: T1
    alpha = cluster.api("alpha")
    alpha.mark("alice", alpha.find("Heat"), True)
    # The owner's too: a run of changes knows the owner's whole state, and the ledger's
    # rows of the owner's untouched items, but decides only what changed.
    alpha.mark("admin", alpha.find("Casablanca"), True)
    return cluster


def test_without_an_earlier_run_it_is_a_full_run(tmp_path: Path) -> None:
    cluster = quiet_cluster()
    report = sync(cluster, tmp_path, changed_only=True)
    assert report.ok and report.kind == "full"
    beta = cluster.api("beta")
    assert beta.seen("alice", beta.find("Heat")) == (True, 0)


def test_a_change_since_the_last_run_reaches_every_server_reading_only_it(
    tmp_path: Path,
) -> None:
    cluster = quiet_cluster()
    full = sync(cluster, tmp_path)
    assert full.ok and full.kind == "full"
    alpha, beta, gamma = (cluster.api(n) for n in ("alpha", "beta", "gamma"))
    beta.clock = time.time
    beta.resume("alice", beta.find("Jaws"), 1_200_000)  # by hand: no proxy reports it

    changed = sync(cluster, tmp_path, changed_only=True)
    assert changed.ok and changed.kind == "changed", changed.render()
    for api in (alpha, gamma):
        assert api.seen("alice", api.find("Jaws")) == (False, 1_200_000), api.name
        assert ("alice", [api.find("Jaws")]) in api.batch_reads
        assert all(ids == [api.find("Jaws")] for _, ids in api.batch_reads), api.batch_reads
    # The whole library was compared in the full run (32 items on alpha); now Jaws, and on
    # beta and gamma the Heat our first run wrote there, listed as changed since (the test
    # moved those servers' clocks three years on, which no real server does) but no change
    # to decide: its stamp is ours.
    assert {n: s.compared for n, s in changed.servers.items()} == {
        "alpha": 1,
        "beta": 2,
        "gamma": 2,
    }
    assert changed.changes == 2


def test_no_show_level_mark_from_a_few_episodes(tmp_path: Path) -> None:
    """A run of changes does not see every episode's state: it marks episodes one by one,
    never the whole show (which would mark episodes it did not read)."""
    cluster = quiet_cluster()
    assert sync(cluster, tmp_path).ok
    alpha, beta = cluster.api("alpha"), cluster.api("beta")
    beta.clock = time.time
    fargo = [i.id for i in beta.library.values() if i.kind == "episode"]
    for episode in fargo:
        beta.mark("alice", episode, True)
    changed = sync(cluster, tmp_path, changed_only=True)
    assert changed.ok and changed.kind == "changed"
    marks = [w for w in alpha.writes if w[0] == "alice"]
    assert alpha.find("Fargo") not in {w[2] for w in marks}
    assert len(marks) == len(fargo)
    episodes = [i.id for i in alpha.library.values() if i.kind == "episode"]
    assert all(alpha.seen("alice", e) == (True, 0) for e in episodes)


def test_a_second_run_of_changes_writes_nothing(tmp_path: Path) -> None:
    cluster = quiet_cluster()
    assert sync(cluster, tmp_path).ok
    beta = cluster.api("beta")
    beta.clock = time.time
    beta.resume("alice", beta.find("Jaws"), 1_200_000)
    assert sync(cluster, tmp_path, changed_only=True).changes == 2
    again = sync(cluster, tmp_path, changed_only=True)
    assert again.ok and again.kind == "changed" and again.changes == 0
