"""End to end with real processes: emulated demo cluster, mitmdump + addon in front of each
server, the manager as a subprocess, python-plexapi as the client (issue 4, "Done when").

One world per module (processes are slow to start on two cores); each test uses its own
(user, item) pairs so the tests do not see each other's changes. Waits are for eventual
consistency with generous limits, never assertions on speed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from plexapi.server import PlexServer

from manager.event import PlaybackEvent
from manager.realtime.writer import SESSIONS_TTL
from tests.e2e.world import World, running_world
from tests.support.configs import MANAGER_TOKEN
from tests.support.live_cluster import addon_available
from tests.support.polling import wait_for

pytestmark = pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("e2e")) as world:
        yield world


def test_mark_played_spreads_to_the_same_user_only(world: World) -> None:
    plex = world.plex("admin")
    movie = plex.fetchItem(int(world.key("alpha", "matrix")))
    movie.markPlayed()
    # gamma names its library "Films" and uses the legacy IMDb agent: still the same film.
    for server in ("beta", "gamma"):
        wait_for(lambda s=server: world.state(s, "admin", "matrix")["view_count"] == 1, what=server)
    for server, users in (("beta", ("alice", "bob", "kid")), ("gamma", ("alice", "kid"))):
        for user in users:
            assert world.state(server, user, "matrix")["view_count"] == 0, (server, user)
    write_lines = wait_for(
        lambda: (
            len(lines := world.manager.log_lines("write", title="The Matrix", user="admin")) >= 2
            and lines
        ),
        what="write lines",
    )
    assert {w["peer"] for w in write_lines} == {"beta", "gamma"}
    assert all(w["outcome"] == "delivered" for w in write_lines)


def test_shared_user_resume_point(world: World) -> None:
    plex = world.plex("alice")
    movie = plex.fetchItem(int(world.key("alpha", "inception")))
    movie.updateTimeline(1200000, "stopped", movie.duration)
    for server in ("beta", "gamma"):
        wait_for(
            lambda s=server: world.state(s, "alice", "inception")["view_offset"] == 1200000,
            what=f"alice resume point on {server}",
        )
    assert world.state("beta", "admin", "inception")["view_offset"] == 0
    assert world.state("gamma", "kid", "inception")["view_offset"] == 0


def test_managed_user_played_then_unplayed(world: World) -> None:
    plex = world.plex("kid")
    movie = plex.fetchItem(int(world.key("alpha", "arrival")))
    movie.markPlayed()
    wait_for(lambda: world.state("beta", "kid", "arrival")["view_count"] >= 1, what="played")
    movie.markUnplayed()
    wait_for(lambda: world.state("beta", "kid", "arrival")["view_count"] == 0, what="unplayed")
    assert world.state("beta", "admin", "arrival")["view_count"] == 0


def test_show_level_mark_played(world: World) -> None:
    plex = world.plex("alice")
    show = plex.fetchItem(int(world.key("alpha", "office")))
    show.markPlayed()
    # beta uses the legacy TheTVDB agent for shows; gamma's library is called "Series".
    for server in ("beta", "gamma"):

        def all_played(s: str = server) -> bool:
            state = world.state(s, "alice", "office")
            return state["leaf_count"] > 0 and state["viewed_leaf_count"] == state["leaf_count"]

        wait_for(all_played, what=f"office watched on {server}")
        assert world.state(server, "admin", "office")["viewed_leaf_count"] == 0


def test_season_level_and_episode_level_across_agents(world: World) -> None:
    plex = world.plex("admin")
    season = plex.fetchItem(int(world.key("alpha", "office"))).season(2)
    season.markPlayed()
    # beta's TV library uses the legacy TheTVDB agent: matched by show ids + numbers.
    for server in ("beta", "gamma"):
        wait_for(
            lambda s=server: all(
                world.state(s, "admin", f"office/s02e0{n}")["view_count"] == 1 for n in range(1, 5)
            ),
            what=f"season 2 on {server}",
        )
        assert world.state(server, "admin", "office/s01e01")["view_count"] == 0
    episode = world.plex("bob").fetchItem(int(world.key("alpha", "office/s01e03")))
    episode.updateTimeline(300_000, "stopped", episode.duration)
    wait_for(
        lambda: world.state("beta", "bob", "office/s01e03")["view_offset"] == 300_000,
        what="episode resume point on beta",
    )


def test_item_only_on_the_source_is_skipped_quietly(world: World) -> None:
    plex = world.plex("admin")
    movie = plex.fetchItem(int(world.key("alpha", "fast")))  # only alpha has it
    movie.markPlayed()
    line = wait_for(
        lambda: world.manager.log_lines("event", title="Fast & Furious"), what="event line"
    )[-1]
    assert line["outcome"] == "no_peers" and line["level"] == "info"
    assert line["not_on"] == "beta,gamma"
    assert not world.manager.log_lines("write", title="Fast & Furious")


def test_user_without_access_to_a_peer_is_not_written_there(world: World) -> None:
    plex = world.plex("bob")  # bob may use alpha and beta, not gamma
    movie = plex.fetchItem(int(world.key("alpha", "inception")))
    movie.markPlayed()
    wait_for(lambda: world.state("beta", "bob", "inception")["view_count"] == 1, what="beta")
    line = wait_for(
        lambda: world.manager.log_lines("no_access_on_peer", user="bob", peer="gamma"),
        what="no-access line",
    )
    assert line[-1]["title"] == "Inception"


def test_same_event_twice_is_applied_once(world: World) -> None:
    event = world.event("alice", "lebowski", kind="scrobble")
    first = world.manager.post(event.to_dict())
    assert first.status_code == 202 and first.json()["accepted"] == 1
    wait_for(lambda: world.event_done(event.id), what="first processed")
    again = world.manager.post([event.to_dict()])
    assert again.status_code == 202 and again.json() == {
        "accepted": 0,
        "duplicates": 1,
        "rejected": [],
        "rejected_count": 0,
    }
    wait_for(
        lambda: [
            line
            for line in world.manager.log_lines("event", event_id=event.id)
            if line["outcome"] == "duplicate"
        ],
        what="duplicate noticed",
    )
    wait_for(lambda: world.state("gamma", "alice", "lebowski")["view_count"] >= 1, what="gamma")
    # Scrobbles add up on Plex: a second delivery would show as view_count 2.
    wait_for(lambda: world.manager.status()["queue"]["writes"] == 0, what="outbox drained")
    assert world.state("gamma", "alice", "lebowski")["view_count"] == 1


def test_older_event_after_newer_is_ignored(world: World) -> None:
    now = time.time()
    newer = world.event(
        "alice", "heat", kind="timeline", state="stopped", time_ms=2_400_000, seen_at=now
    )
    older = world.event(
        "alice", "heat", kind="timeline", state="stopped", time_ms=600_000, seen_at=now - 60
    )
    assert world.manager.post(newer.to_dict()).status_code == 202
    wait_for(lambda: world.state("gamma", "alice", "heat")["view_offset"] == 2_400_000, what="new")
    assert world.manager.post(older.to_dict()).status_code == 202
    done = wait_for(lambda: world.event_done(older.id), what="older processed")
    assert done["outcome"] == "stale"
    wait_for(lambda: world.manager.status()["queue"]["writes"] == 0, what="outbox drained")
    assert world.state("gamma", "alice", "heat")["view_offset"] == 2_400_000


def test_playing_heartbeats_are_written_at_most_once_a_minute(world: World) -> None:
    events = [
        world.event("kid", "dark/s01e01", kind="timeline", state="playing", time_ms=t * 1000)
        for t in (120, 130, 140)
    ]
    for ev in events:
        assert world.manager.post(ev.to_dict()).status_code == 202
        wait_for(lambda e=ev: world.event_done(e.id), what="heartbeat processed")
    outcomes = [world.event_done(e.id)["outcome"] for e in events]
    assert outcomes == ["queued", "throttled", "throttled"]
    wait_for(lambda: world.state("gamma", "kid", "dark/s01e01")["view_offset"] == 120_000, what="h")
    # Paused: written at once, then the same position reported again is not rewritten.
    paused = [
        world.event("kid", "dark/s01e01", kind="timeline", state="paused", time_ms=150_000)
        for _ in range(2)
    ]
    for ev in paused:
        assert world.manager.post(ev.to_dict()).status_code == 202
        wait_for(lambda e=ev: world.event_done(e.id), what="paused processed")
    assert [world.event_done(e.id)["outcome"] for e in paused] == ["queued", "unchanged"]
    wait_for(lambda: world.state("gamma", "kid", "dark/s01e01")["view_offset"] == 150_000, what="p")


def test_past_the_played_threshold_scrobbles_once(world: World) -> None:
    duration = world.cluster.servers["alpha"].item(world.key("alpha", "dark/s01e04")).duration
    reports = [
        world.event(
            "kid",
            "dark/s01e04",
            kind="timeline",
            state=state,
            time_ms=int(duration * share),
            duration_ms=duration,
        )
        for state, share in (
            ("playing", 0.5),
            ("playing", 0.95),
            ("playing", 0.97),
            ("stopped", 0.99),
        )
    ]
    for report in reports:
        assert world.manager.post(report.to_dict()).status_code == 202
        wait_for(lambda r=report: world.event_done(r.id), what="report processed")
    outcomes = [world.event_done(r.id)["outcome"] for r in reports]
    assert outcomes == ["queued", "queued", "already_played", "already_played"]
    wait_for(lambda: world.manager.status()["queue"]["writes"] == 0, what="outbox drained")
    state = world.state("gamma", "kid", "dark/s01e04")
    assert state["view_count"] == 1


def test_original_proxy_payload(world: World) -> None:
    alpha = world.cluster.servers["alpha"]
    rk = world.key("alpha", "dark/s01e02")
    line = {
        "remote_addr": "127.0.0.1",
        "proxy_add_x_forwarded_for": "127.0.0.1",
        "host": alpha.url.split("://", 1)[1],
        "method": "GET",
        "uri": f"/:/scrobble?key={rk}&identifier=com.plexapp.plugins.library",
        "token": world.cluster.token_for("kid", "alpha"),
        "identifier": "legacy-client",
        "status": "200",
    }
    import httpx

    r = httpx.post(f"{world.manager.url}/", params={"token": MANAGER_TOKEN}, json=line)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    wait_for(lambda: world.state("gamma", "kid", "dark/s01e02")["view_count"] == 1, what="gamma")


def test_peer_where_the_user_is_playing_it_now_waits(world: World) -> None:
    # admin is watching Dark S01E03 on gamma right now (straight to gamma, no proxy)...
    on_gamma = PlexServer(
        world.cluster.servers["gamma"].url, world.cluster.token_for("admin", "gamma")
    )
    episode = on_gamma.fetchItem(int(world.key("gamma", "dark/s01e03")))
    episode.updateTimeline(300_000, "playing", episode.duration)
    time.sleep(SESSIONS_TTL + 0.1)  # the manager's cached view of gamma's sessions expires
    # ...while stopping the same episode on alpha, through alpha's proxy.
    on_alpha = world.plex("admin").fetchItem(int(world.key("alpha", "dark/s01e03")))
    on_alpha.updateTimeline(900_000, "stopped", on_alpha.duration)
    line = wait_for(
        lambda: world.manager.log_lines("write", peer="gamma", title="Dark S01E03"),
        what="write line",
    )[-1]
    # Not now: tried again later (issue 9: a write skipped there used to be lost).
    assert line["outcome"] == "deferred"
    assert world.state("gamma", "admin", "dark/s01e03")["view_offset"] == 300_000


def test_5xx_is_retried_and_4xx_dropped_with_a_reason(world: World) -> None:
    beta = world.cluster.servers["beta"]
    beta.fail_next(2, status=503)
    movie = world.plex("kid").fetchItem(int(world.key("alpha", "matrix")))
    movie.markPlayed()
    wait_for(lambda: world.state("beta", "kid", "matrix")["view_count"] == 1, what="beta")
    tries = wait_for(
        lambda: (
            [
                t
                for t in world.manager.log_lines(
                    "write", peer="beta", title="The Matrix", user="kid"
                )
                if t["outcome"] == "delivered"
            ]
            and world.manager.log_lines("write", peer="beta", title="The Matrix", user="kid")
        ),
        what="delivered line",
    )
    # Usually two retries; one fewer if a health probe happened to take one of the 503s.
    outcomes = [t["outcome"] for t in tries]
    assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"retry"}, outcomes
    assert "503" in tries[0]["reason"]

    # An item that disappeared from beta after the index was built: 404, dropped.
    beta.remove_item(world.key("beta", "breaking/s01e01"))
    event = world.event("bob", "breaking/s01e01", kind="scrobble")
    assert world.manager.post(event.to_dict()).status_code == 202
    line = wait_for(
        lambda: world.manager.log_lines("write", peer="beta", title="Breaking Bad S01E01"),
        what="write line",
    )[-1]
    assert line["outcome"] == "dropped" and "404" in line["reason"]


def test_unknown_source_and_unknown_user_are_logged_not_written(world: World) -> None:
    stranger = world.event("admin", "heat", kind="scrobble")
    stranger = PlaybackEvent.from_dict({**stranger.to_dict(), "token": "not-a-token-anyone-has"})
    elsewhere = PlaybackEvent(
        kind="scrobble", rating_key="1", token="t", upstream_url="http://127.0.0.1:9"
    )
    assert world.manager.post([stranger.to_dict(), elsewhere.to_dict()]).status_code == 202
    assert wait_for(lambda: world.event_done(stranger.id))["outcome"] == "unknown_user"
    assert wait_for(lambda: world.event_done(elsewhere.id))["outcome"] == "unknown_source"
    assert world.state("gamma", "admin", "heat")["view_count"] == 0


def test_status_reports_servers_users_and_queue(world: World) -> None:
    status = world.manager.status()
    assert status["status"] == "ready"
    assert [(s["name"], s["reachable"]) for s in status["servers"]] == [
        ("alpha", True),
        ("beta", True),
        ("gamma", True),
    ]
    assert all(s["machine_identifier"] and s["index_items"] > 0 for s in status["servers"])
    assert status["users"]["known"] == 4
    assert {"writes", "events_pending"} <= set(status["queue"])
    assert status["writes_delivered"] > 0
    assert "last_sync" in status
    db = world.manager.workdir / "manager.db"
    assert db.stat().st_mode & 0o777 == 0o600


def test_peer_down_then_back_catches_up(world: World) -> None:
    beta = world.cluster.servers["beta"]
    beta.go_down()
    try:
        movie = world.plex("bob").fetchItem(int(world.key("alpha", "amelie")))
        movie.markPlayed()
        wait_for(
            lambda: [
                w
                for w in world.manager.log_lines("write", peer="beta", title="Amélie")
                if w["outcome"] == "retry"
            ],
            what="a failed attempt on beta",
        )
    finally:
        beta.come_up()
    wait_for(lambda: world.state("beta", "bob", "amelie")["view_count"] == 1, what="catch-up")


def test_manager_restart_delivers_queued_writes(world: World) -> None:
    beta = world.cluster.servers["beta"]
    beta.go_down()
    try:
        movie = world.plex("alice").fetchItem(int(world.key("alpha", "matrix")))
        movie.updateTimeline(1800000, "stopped", movie.duration)
        wait_for(
            lambda: world.state("gamma", "alice", "matrix")["view_offset"] == 1800000, what="gamma"
        )
        wait_for(lambda: world.manager.status()["queue"]["writes"] >= 1, what="write queued")
        assert world.manager.stop() == 0
    finally:
        beta.come_up()
    assert world.state("beta", "alice", "matrix")["view_offset"] == 0  # nobody delivered it yet
    world.manager.start()
    wait_for(lambda: world.state("beta", "alice", "matrix")["view_offset"] == 1800000, what="beta")


def test_no_token_in_full_in_the_logs_or_left_in_the_database(world: World) -> None:
    import sqlite3

    info = world.cluster.describe()
    tokens = {u["account_token"] for u in info["users"].values()}
    for server in info["servers"]:
        tokens |= set(server["tokens"].values()) | {server["owner_token"]}
    tokens.add(MANAGER_TOKEN)
    wait_for(lambda: world.manager.status()["queue"]["events_pending"] == 0, what="drained")
    log = world.manager.output()
    assert "event" in log and len(tokens) > 8
    assert [t[:4] for t in tokens if t in log] == []
    with sqlite3.connect(world.manager.workdir / "manager.db") as conn:
        left = conn.execute("SELECT count(*) FROM event WHERE payload IS NOT NULL").fetchone()
    assert left == (0,)
