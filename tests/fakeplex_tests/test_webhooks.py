"""The Plex emulator's webhooks, driven by python-plexapi and caught by a stdlib receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from plexapi.server import PlexServer

from tests.fakeplex import Cluster
from tests.support.hook_receiver import HookReceiver


@pytest.fixture
def hooks(demo_cluster: Cluster) -> Iterator[HookReceiver]:
    rx = HookReceiver()
    demo_cluster.webhook_to("alpha", rx.url)
    yield rx
    rx.stop()


def _movie(cluster: Cluster, user: str, title: str):  # type: ignore[no-untyped-def]
    plex = PlexServer(cluster.servers["alpha"].url, cluster.token_for(user, "alpha"))
    return plex.library.section("Movies").get(title)


def test_off_by_default(demo_cluster: Cluster) -> None:
    assert not demo_cluster.servers["alpha"].webhooks.enabled


def test_play_pause_resume_stop_payloads(demo_cluster: Cluster, hooks: HookReceiver) -> None:
    movie = _movie(demo_cluster, "alice", "The Matrix")
    movie.updateTimeline(120_000, state="playing")
    movie.updateTimeline(180_000, state="paused")
    movie.updateTimeline(180_000, state="playing")
    movie.updateTimeline(20 * 60_000, state="stopped")
    assert demo_cluster.flush_webhooks()
    got = hooks.wait_for(4)
    assert [r.json()["event"] for r in got] == [
        "media.play",
        "media.pause",
        "media.resume",
        "media.stop",
    ]
    play = got[0]
    assert play.content_type.startswith("multipart/form-data; boundary=")
    assert play.headers["user-agent"].startswith("PlexMediaServer/")
    parts = play.parts()
    assert parts["payload"][0] == "application/json"
    assert parts["thumb"][0] == "image/jpeg" and parts["thumb"][1][:2] == b"\xff\xd8"
    assert "thumb" not in got[1].parts()  # only media.play carries a poster
    p = got[3].json()
    srv = demo_cluster.servers["alpha"]
    assert p["user"] is False and p["owner"] is True  # alice's event on admin's webhook
    assert p["Account"]["id"] == 2002 and p["Account"]["title"] == "alice"
    assert p["Server"] == {"title": srv.friendly_name, "uuid": srv.machine_identifier}
    assert set(p["Player"]) == {"local", "publicAddress", "title", "uuid"}
    meta = p["Metadata"]
    assert meta["ratingKey"] == movie.ratingKey.__str__() and meta["type"] == "movie"
    assert meta["librarySectionType"] == "movie" and meta["viewOffset"] == 20 * 60_000
    assert {"id": "imdb://tt0133093"} in meta["Guid"]


def test_scrobble_past_90_percent_and_owner_account_is_1(
    demo_cluster: Cluster, hooks: HookReceiver
) -> None:
    movie = _movie(demo_cluster, "admin", "The Matrix")
    movie.updateTimeline(60_000 * 5, state="playing")
    movie.updateTimeline(int(movie.duration * 0.95), state="playing")
    movie.updateTimeline(int(movie.duration * 0.97), state="stopped")
    assert demo_cluster.flush_webhooks()
    events = hooks.events()
    assert events == ["media.play", "media.scrobble", "media.stop"]  # scrobble once
    p = hooks.received[1].json()
    assert p["Account"]["id"] == 1 and p["user"] is True


def test_mark_played_by_hand_sends_nothing(demo_cluster: Cluster, hooks: HookReceiver) -> None:
    movie = _movie(demo_cluster, "alice", "Heat")
    movie.markPlayed()
    movie.markUnplayed()
    demo_cluster.servers["alpha"].set_state("alice", movie.ratingKey, view_count=1)
    assert demo_cluster.flush_webhooks()
    assert hooks.wait_for(1, timeout=0.5) == []
    assert demo_cluster.state("alpha", "alice", "heat")["played"] is True


def test_dead_receiver_is_logged_not_raised(demo_cluster: Cluster) -> None:
    srv = demo_cluster.servers["alpha"]
    srv.webhook_to("http://127.0.0.1:9/nothing-listens")
    movie = _movie(demo_cluster, "alice", "The Matrix")
    movie.updateTimeline(120_000, state="playing")
    assert srv.webhooks.flush()
    assert srv.webhooks.stats.failed == 1
