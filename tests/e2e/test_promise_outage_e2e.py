"""Issue 9, after an outage: the newest action wins, in real time and after a full sync.

Real processes: the emulated cluster (alpha = A, beta = B, gamma = C), a mitmdump + addon
in front of each server, the manager as a subprocess, `python -m manager sync --user …`
for the full sync; clients are python-plexapi through the proxies. Outages are made with
the manager or a proxy stopped (a proxy keeps its events in its spool and delivers them
when it is back), a server down, or a partition between the manager and one server.
Each test has its own user. Every test here fails on the code of issue 9's report; the
marks go when the fixes land.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from manager.realtime.writer import SESSIONS_TTL
from tests.e2e.promise_world import T_OLD, PromiseWorld, is_replay, next_second, promise_world
from tests.support.live_cluster import addon_available
from tests.support.polling import wait_for

pytestmark = pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree")

SERVERS = ("alpha", "beta", "gamma")


@pytest.fixture(scope="module")
def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromiseWorld]:
    with promise_world(tmp_path_factory.mktemp("promise-outage")) as world:
        yield world


@pytest.fixture
def world(module_world: PromiseWorld) -> Iterator[PromiseWorld]:
    module_world.clear_requests()
    yield module_world
    module_world.restore()


def everywhere(value: object) -> dict[str, object]:
    return dict.fromkeys(SERVERS, value)


def test_older_resume_point_delivered_late_does_not_win(world: PromiseWorld) -> None:
    """The manager is down. Erin stops Jaws at 1:07:47 on C, then at 34:14 on A (newer).
    The manager comes back while A's proxy is still away, so C's event is handled first
    and written to A; then A's proxy delivers A's newer event. A must end at 34:14 like
    the others, and a full sync must not take Plex's fresh lastViewedAt stamp of that
    late write on A for the newest change and spread 1:07:47."""
    world.manager.stop()
    world.stop_at("erin", "gamma", "jaws", 4_067_000, handled=False)
    next_second(time.time())  # Plex's whole-second stamps tell the two apart
    world.stop_at("erin", "alpha", "jaws", 2_054_000, handled=False)
    newest_change = time.time()
    world.proxies["alpha"].stop()  # A's event waits in A's spool
    next_second(newest_change)
    world.manager.start()
    world.wait_events("erin", "Jaws", 1)
    world.settle()
    world.proxies["alpha"].start()
    world.wait_events("erin", "Jaws", 2)
    world.settle()
    real_time = world.seen("erin", "jaws")
    world.full_sync("erin")

    assert {"real time": real_time, "after a full sync": world.seen("erin", "jaws")} == {
        "real time": everywhere((False, 2_054_000)),
        "after a full sync": everywhere((False, 2_054_000)),
    }
    assert world.foreign_writes("erin", "jaws") == []


def test_older_show_scrobble_delivered_late_does_not_win(world: PromiseWorld) -> None:
    """Frank had watched Fargo S01E01 everywhere. The manager is down. He marks the whole
    show watched on A, then unwatched on C (newer). The manager comes back while C's proxy
    is still away, so A's show scrobble is handled first and written to C; then C's
    proxy delivers the newer unwatch. Fargo must end unwatched everywhere, also after a
    full sync."""
    for server in SERVERS:
        world.set_state(server, "frank", "fargo/s01e01", view_count=1, last_viewed_at=T_OLD)
    world.manager.stop()
    world.mark("frank", "alpha", "fargo", played=True, handled=False)
    next_second(time.time())  # Plex's whole-second stamps tell the two apart
    world.mark("frank", "gamma", "fargo", played=False, handled=False)
    newest_change = time.time()
    world.proxies["gamma"].stop()  # C's event waits in C's spool
    next_second(newest_change)
    world.manager.start()
    world.wait_events("frank", "Fargo", 1)
    world.settle()
    world.proxies["gamma"].start()
    world.wait_events("frank", "Fargo", 2)
    world.settle()
    real_time = world.watched_episodes("frank", "fargo")
    world.full_sync("frank")

    assert {
        "real time": real_time,
        "after a full sync": world.watched_episodes("frank", "fargo"),
    } == {
        "real time": everywhere("0/3"),
        "after a full sync": everywhere("0/3"),
    }
    assert world.foreign_writes("frank", "fargo") == []


def test_retried_scrobble_does_not_land_after_a_newer_unwatch(world: PromiseWorld) -> None:
    """The manager cannot reach B for a while (B's own clients still can). Grace marks
    Casablanca played on A: C gets it, the write for B is retried. Then, on B, she marks it
    unplayed (newer): A and C follow. When B is reachable again the waiting scrobble is
    out of date: Casablanca must stay unwatched everywhere, also after a full sync."""
    beta = world.cluster.servers["beta"]
    beta.refuse_when(is_replay)  # only the manager's requests are cut off
    world.mark("grace", "alpha", "casablanca", played=True)
    wait_for(lambda: world.seen("grace", "casablanca")["gamma"][0], what="watched on C")
    wait_for(
        lambda: [
            w for w in world.write_lines("beta", "grace", "Casablanca") if w["outcome"] == "retry"
        ],
        what="the write for B failing",
    )
    world.mark("grace", "beta", "casablanca", played=False)
    wait_for(
        lambda: (
            not world.seen("grace", "casablanca")["alpha"][0]
            and not world.seen("grace", "casablanca")["gamma"][0]
        ),
        what="unwatched on A and C",
    )
    next_second(time.time())
    beta.refuse_when(None)
    world.settle()
    real_time = world.seen("grace", "casablanca")
    world.full_sync("grace")

    assert {"real time": real_time, "after a full sync": world.seen("grace", "casablanca")} == {
        "real time": everywhere((False, 0)),
        "after a full sync": everywhere((False, 0)),
    }
    assert world.foreign_writes("grace", "casablanca") == []


def test_show_level_unwatch_is_not_undone_by_an_older_episode_row(world: PromiseWorld) -> None:
    """The owner watched Fargo S01E01 and later paused a rewatch at 37:23 (all through A).
    He then marks the show unwatched, and stops S01E01 at 37:23 again. S01E01 must be
    unwatched with its resume point at 37:23 on every server, in real time (the stop
    repeats a position only the show-level unwatch has since cleared) and after a full
    sync (the episode's older "played" must not outrank the newer show-level unwatch)."""
    world.mark("admin", "alpha", "fargo/s01e01", played=True)
    world.stop_at("admin", "alpha", "fargo/s01e01", 2_243_000, state="paused")
    wait_for(
        lambda: world.seen("admin", "fargo/s01e01") == everywhere((True, 2_243_000)),
        what="S01E01 watched, paused at 37:23 everywhere",
    )
    world.mark("admin", "alpha", "fargo", played=False)
    wait_for(
        lambda: world.watched_episodes("admin", "fargo") == everywhere("0/3"),
        what="Fargo unwatched everywhere",
    )
    stop = world.stop_at("admin", "alpha", "fargo/s01e01", 2_243_000)
    world.settle()
    real_time = world.seen("admin", "fargo/s01e01")
    world.full_sync("admin")

    assert {"real time": real_time, "after a full sync": world.seen("admin", "fargo/s01e01")} == {
        "real time": everywhere((False, 2_243_000)),
        "after a full sync": everywhere((False, 2_243_000)),
    }, f"the stop at 37:23 was handled as {stop and stop['outcome']}"
    assert world.foreign_writes("admin", "fargo/s01e01") == []


def test_write_skipped_while_playing_there_is_repaired(world: PromiseWorld) -> None:
    """Ivan had watched Casablanca everywhere and is rewatching it on C (playing at 10:00).
    Meanwhile he marks it unplayed on A: B follows, C is skipped because he is playing it
    there. He then stops on C at 25:00. Newest wins: unwatched with a resume point at
    25:00 everywhere, C included, also after a full sync (C's old watched mark, dated by
    the stop's fresh lastViewedAt, must not spread)."""
    for server in SERVERS:
        world.set_state(server, "ivan", "casablanca", view_count=1, last_viewed_at=T_OLD)
    world.stop_at("ivan", "gamma", "casablanca", 600_000, state="playing")
    playing_since = time.monotonic()
    # The manager's cached view of C's sessions (SESSIONS_TTL) must include this session.
    wait_for(lambda: time.monotonic() > playing_since + SESSIONS_TTL, what="sessions cache")
    world.mark("ivan", "alpha", "casablanca", played=False)
    wait_for(lambda: world.seen("ivan", "casablanca")["beta"] == (False, 0), what="B unwatched")
    wait_for(lambda: world.write_lines("gamma", "ivan", "Casablanca"), what="the write for C")
    world.stop_at("ivan", "gamma", "casablanca", 1_500_000)
    world.settle()
    real_time = world.seen("ivan", "casablanca")
    world.full_sync("ivan")

    assert {"real time": real_time, "after a full sync": world.seen("ivan", "casablanca")} == {
        "real time": everywhere((False, 1_500_000)),
        "after a full sync": everywhere((False, 1_500_000)),
    }
    assert world.foreign_writes("ivan", "casablanca") == []
