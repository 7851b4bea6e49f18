"""Full sync against the emulated demo cluster, with a real SQLite file and real outbox.

Demo world: alpha (new agents), beta (legacy thetvdb TV), gamma (legacy imdb films; bob
has no access). ratingKeys differ per server; items are matched by identity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manager.fullsync import engine as fullsync
from manager.fullsync.engine import SyncBusy
from manager.fullsync.report import Progress
from manager.model import Change
from manager.store import ledger
from manager.store.lease import acquire as _lease_acquire
from manager.store.lease import release as _lease_release
from manager.store.runner import DbRunner
from tests.fakeplex import Cluster
from tests.fullsync.helpers import T0, clear_requests, db_call, recorded_writes, run_sync
from tests.support.configs import manager_config
from tests.support.state import seen

MIN = 60_000
T1, T2, T3 = T0 + 100, T0 + 200, T0 + 300


def put(cluster: Cluster, server: str, user: str, title: str, **fields: int) -> None:
    srv = cluster.servers[server]
    srv.set_state(user, srv.find_key(title=title), **fields)


def put_episode(cluster: Cluster, server: str, user: str, catalog: str, **fields: int) -> None:
    srv = cluster.servers[server]
    srv.set_state(user, srv.find_key(catalog=catalog), **fields)


# (user, title, {server: (watched, resume ms)}) after the sync. Servers without the item, or
# where the user has no access, are left out.
EXPECTED = [
    # watched on alpha, a newer resume point on beta: a resume point never undoes watched
    ("alice", "The Matrix", {"alpha": (True, 0), "beta": (True, 0), "gamma": (True, 0)}),
    # two resume points: the newest (gamma, 40 min) everywhere
    (
        "alice",
        "Inception",
        {"alpha": (False, 40 * MIN), "beta": (False, 40 * MIN), "gamma": (False, 40 * MIN)},
    ),
    ("alice", "Heat", {"alpha": (True, 0), "gamma": (True, 0)}),
    # bob cannot use gamma: alpha and beta only
    ("bob", "Arrival", {"alpha": (True, 0), "beta": (True, 0)}),
    # kid watched all of Dark on gamma: alpha gets it (one show-level scrobble)
    ("kid", "Dark", {"alpha": (True, 0), "gamma": (True, 0)}),
    # not watched on alpha is no proof of "unwatched": beta's watched mark wins
    ("admin", "Amélie", {"alpha": (True, 0), "beta": (True, 0)}),
    # legacy imdb agent on gamma, plex:// on alpha
    ("admin", "The Big Lebowski", {"alpha": (False, 50 * MIN), "gamma": (False, 50 * MIN)}),
    # nobody else is touched
    ("bob", "The Matrix", {"alpha": (False, 0), "beta": (False, 0)}),
    ("kid", "Inception", {"alpha": (False, 0), "beta": (False, 0), "gamma": (False, 0)}),
]
# bob's resume point on an Office episode: beta's TV library uses the legacy TheTVDB agent.
EXPECTED_EPISODES = [
    ("bob", "office/s01e02", {"alpha": (False, 10 * MIN), "beta": (False, 10 * MIN)}),
    ("bob", "office/s01e03", {"alpha": (False, 0), "beta": (False, 0)}),
]


def diverge(cluster: Cluster) -> None:
    put(cluster, "alpha", "alice", "The Matrix", view_count=1, last_viewed_at=T1)
    put(cluster, "beta", "alice", "The Matrix", view_offset=30 * MIN, last_viewed_at=T2)
    put(cluster, "beta", "alice", "Inception", view_offset=20 * MIN, last_viewed_at=T1)
    put(cluster, "gamma", "alice", "Inception", view_offset=40 * MIN, last_viewed_at=T2)
    put(cluster, "gamma", "alice", "Heat", view_count=1, last_viewed_at=T1)
    put(cluster, "beta", "bob", "Arrival", view_count=1, last_viewed_at=T1)
    put_episode(cluster, "alpha", "bob", "office/s01e02", view_offset=10 * MIN, last_viewed_at=T1)
    put(cluster, "gamma", "kid", "Dark", view_count=1, last_viewed_at=T3)
    put(cluster, "beta", "admin", "Amélie", view_count=1, last_viewed_at=T1)
    put(cluster, "gamma", "admin", "The Big Lebowski", view_offset=50 * MIN, last_viewed_at=T2)


def assert_expected(cluster: Cluster) -> None:
    for user, title, servers in EXPECTED:
        for server, want in servers.items():
            assert seen(cluster, server, user, title=title) == want, (user, title, server)
    for user, catalog, servers in EXPECTED_EPISODES:
        for server, want in servers.items():
            assert seen(cluster, server, user, catalog=catalog) == want, (user, catalog, server)


def test_diverging_states_converge_and_second_sync_writes_nothing(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    diverge(demo_cluster)
    config = manager_config(demo_cluster, tmp_path)
    report, _ = run_sync(config)
    assert report.ok, report.render()
    assert_expected(demo_cluster)

    writes = recorded_writes(demo_cluster)
    dark_alpha = demo_cluster.servers["alpha"].find_key(title="Dark")
    kid_alpha = [w for w in writes if w[0] == "alpha" and w[1] == "kid"]
    assert kid_alpha == [("alpha", "kid", "scrobble", dark_alpha)]  # one show-level scrobble
    assert report.servers["alpha"].watched == 4 + 1 + 1 + 1  # Dark's 4 episodes, 3 movies
    assert report.servers["beta"].resume == 2  # Inception, bob's episode

    # The decided state is in the ledger, keyed by the item's identity.
    row = db_call(config, ledger.get, "2002", "movie:imdb://tt0133093")
    assert row is not None and row.played is True

    clear_requests(demo_cluster)
    again, _ = run_sync(config)
    assert again.ok, again.render()
    assert recorded_writes(demo_cluster) == []
    assert again.changes == 0
    assert_expected(demo_cluster)


def test_ledger_proven_unwatch_spreads(demo_cluster: Cluster, tmp_path: Path) -> None:
    for server in ("alpha", "beta", "gamma"):
        put(demo_cluster, server, "alice", "The Matrix", view_count=1, last_viewed_at=T1)
        put(demo_cluster, server, "alice", "Inception", view_count=1, last_viewed_at=T1)
    # alice unwatched The Matrix on beta after watching it; a proxy saw it (ledger).
    beta = demo_cluster.servers["beta"]
    beta.set_state("alice", beta.find_key(title="The Matrix"), view_count=0, last_viewed_at=0)
    # She also unwatched Inception on beta, but no proxy saw it: no proof, it comes back.
    beta.set_state("alice", beta.find_key(title="Inception"), view_count=0, last_viewed_at=0)
    config = manager_config(demo_cluster, tmp_path)
    db_call(
        config,
        ledger.record,
        ledger.Observation(
            user_id="2002",
            identity_key="movie:imdb://tt0133093",
            change=Change.UNPLAYED,
            observed_at=T2,
            source_server="beta",
        ),
    )

    report, _ = run_sync(config)
    assert report.ok, report.render()
    for server in ("alpha", "beta", "gamma"):
        assert seen(demo_cluster, server, "alice", title="The Matrix") == (False, 0), server
        assert seen(demo_cluster, server, "alice", title="Inception") == (True, 0), server
    writes = sorted(recorded_writes(demo_cluster))
    matrix = {s: demo_cluster.servers[s].find_key(title="The Matrix") for s in ("alpha", "gamma")}
    inception_beta = beta.find_key(title="Inception")
    assert writes == sorted(
        [
            ("alpha", "alice", "unscrobble", matrix["alpha"]),
            ("gamma", "alice", "unscrobble", matrix["gamma"]),
            ("beta", "alice", "scrobble", inception_beta),
        ]
    )


def test_empty_server_catches_up_without_touching_the_others(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    # alpha and beta agree; gamma is new and empty.
    for server in ("alpha", "beta"):
        put(demo_cluster, server, "alice", "The Matrix", view_count=1, last_viewed_at=T1)
        put(demo_cluster, server, "admin", "Inception", view_offset=25 * MIN, last_viewed_at=T2)
        put_episode(demo_cluster, server, "kid", "office/s02e01", view_count=1, last_viewed_at=T1)
    report, _ = run_sync(manager_config(demo_cluster, tmp_path))
    assert report.ok, report.render()
    writes = recorded_writes(demo_cluster)
    assert writes and {w[0] for w in writes} == {"gamma"}
    assert seen(demo_cluster, "gamma", "alice", title="The Matrix") == (True, 0)
    assert seen(demo_cluster, "gamma", "admin", title="Inception") == (False, 25 * MIN)
    assert seen(demo_cluster, "gamma", "kid", catalog="office/s02e01") == (True, 0)
    assert seen(demo_cluster, "gamma", "kid", catalog="office/s02e02") == (False, 0)
    for server in ("alpha", "beta"):
        assert seen(demo_cluster, server, "alice", title="The Matrix") == (True, 0)
        assert seen(demo_cluster, server, "admin", title="Inception") == (False, 25 * MIN)
    assert report.servers["gamma"].watched == 2 and report.servers["gamma"].resume == 1


def test_server_down_from_the_start(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    demo_cluster.servers["gamma"].go_down()
    report, _ = run_sync(manager_config(demo_cluster, tmp_path))
    assert not report.ok
    gamma = report.servers["gamma"]
    assert gamma.failed >= 1 and any("not read" in e for e in gamma.errors), gamma
    assert "gamma" in report.render() and "not read" in report.render()
    # alpha and beta still synced with each other.
    assert seen(demo_cluster, "alpha", "admin", title="Amélie") == (True, 0)
    assert seen(demo_cluster, "alpha", "bob", title="Arrival") == (True, 0)
    assert seen(demo_cluster, "beta", "alice", title="The Matrix") == (True, 0)


class _DownWhenWriting(Progress):
    """Takes gamma down once its catalogue has been read (reads done, writes to come)."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def start(self, phase: str, total: int = 0, detail: str = "") -> None:
        if phase == "users":
            self.cluster.servers["gamma"].go_down()
        super().start(phase, total, detail)


def test_server_down_during_the_sync_then_queued_writes_resume(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    diverge(demo_cluster)
    # The admin's state on gamma is read with the catalogue, before gamma goes down: this
    # write to gamma is planned, queued, and cannot be delivered.
    put(demo_cluster, "alpha", "admin", "Heat", view_count=1, last_viewed_at=T1)
    config = manager_config(demo_cluster, tmp_path)
    report, _ = run_sync(config, progress=_DownWhenWriting(demo_cluster))
    assert not report.ok
    assert report.servers["gamma"].failed >= 2  # alice and kid not read, the admin's write
    assert report.undelivered == 1
    assert any("unreachable" in e for e in report.servers["gamma"].errors)
    assert report.servers["alpha"].failed == 0 and report.servers["beta"].failed == 0
    assert seen(demo_cluster, "beta", "alice", title="The Matrix") == (True, 0)
    assert seen(demo_cluster, "alpha", "alice", title="Heat") == (False, 0)  # only gamma knew
    assert seen(demo_cluster, "gamma", "admin", title="Heat") == (False, 0)

    demo_cluster.servers["gamma"].come_up()
    # Its outbox delivers what the first run left queued. alice's Inception: the first run
    # wrote beta's 20 min to alpha (Plex stamps that "now"), gamma's 40 min is older than
    # "now" but newer than the truth the ledger kept: 40 min must win.
    again, _ = run_sync(config)
    assert again.ok, again.render()
    assert_expected(demo_cluster)
    assert seen(demo_cluster, "gamma", "admin", title="Heat") == (True, 0)


def test_only_user_server_filters_and_dry_run(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    config = manager_config(demo_cluster, tmp_path)
    _, planned = run_sync(config, dry_run=True, users=("alice",), only="progress")
    assert recorded_writes(demo_cluster) == []
    assert {(u, c.change, c.server) for u, c in planned} == {
        ("alice", Change.RESUME, "alpha"),
        ("alice", Change.RESUME, "beta"),
    }
    _, planned = run_sync(config, dry_run=True, servers=("alpha",), only="watched")
    assert {c.server for _, c in planned} == {"alpha"}
    assert {c.change for _, c in planned} == {Change.PLAYED}
    assert recorded_writes(demo_cluster) == []


def test_deny_list_and_busy_lease(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    config = manager_config(demo_cluster, tmp_path, sync={"users": {"deny": ["alice", "kid"]}})
    assert db_call(config, _lease_acquire, "someone-else", 60.0) is None
    with pytest.raises(SyncBusy):
        run_sync(config)
    db_call(config, _lease_release, "someone-else")
    report, _ = run_sync(config)
    assert report.ok and sorted(report.users) == ["admin", "bob"]
    assert {w[1] for w in recorded_writes(demo_cluster)} == {"admin", "bob"}


def test_lease_is_released_and_second_runner_not_blocked(tmp_path: Path) -> None:
    runner = DbRunner(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert runner.call(_lease_acquire, "a", 60.0) is None
        assert runner.call(_lease_acquire, "b", 60.0) is not None
        assert runner.call(_lease_acquire, "a", 60.0) is None  # renewal by the holder
        runner.call(_lease_release, "a")
        assert runner.call(_lease_acquire, "b", 60.0) is None
        assert runner.call(_lease_acquire, "c", -1.0) is not None  # b still holds it
    finally:
        runner.close()


def test_show_level_unwatch_in_the_ledger_spreads_to_every_episode(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    for server in ("alpha", "gamma"):
        put(demo_cluster, server, "kid", "Dark", view_count=1, last_viewed_at=T1)
    # kid unwatched the whole show on alpha; the real-time path kept it under the show.
    put(demo_cluster, "alpha", "kid", "Dark", view_count=0, last_viewed_at=0)
    config = manager_config(demo_cluster, tmp_path)
    db_call(
        config,
        ledger.record,
        ledger.Observation(
            user_id="4004",
            identity_key="show:tvdb://334824",
            change=Change.UNPLAYED,
            observed_at=T2,
            source_server="alpha",
            kind="show",
        ),
    )
    report, _ = run_sync(config)
    assert report.ok, report.render()
    assert seen(demo_cluster, "gamma", "kid", title="Dark") == (False, 0)
    assert seen(demo_cluster, "alpha", "kid", title="Dark") == (False, 0)
    writes = recorded_writes(demo_cluster)
    assert len(writes) == 4 and {w[:3] for w in writes} == {("gamma", "kid", "unscrobble")}


def test_writes_fed_to_the_outbox_a_few_at_a_time(
    demo_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real-time writes queue behind the sync's: the sync keeps only a few queued at once.
    monkeypatch.setattr(fullsync, "FEED", 2)
    monkeypatch.setattr(fullsync, "MAX_AHEAD", 3)
    diverge(demo_cluster)
    report, _ = run_sync(manager_config(demo_cluster, tmp_path))
    assert report.ok, report.render()
    assert report.changes >= 10
    assert_expected(demo_cluster)
