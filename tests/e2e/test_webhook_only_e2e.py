"""A server with only webhooks, beside servers with proxies (issue 12, "Done when").

The mixed world (Plex, Jellyfin, Emby, a mitmdump + addon in front of each, the manager),
with every emulator posting its own webhooks to the manager, in its real format. For each
kind, a real client changes state straight on that server, past its proxy: only the
server's webhook tells the manager. The change reaches every peer for the same user, and
the webhooks the peers send back for our own writes (echoes) write nothing: one write per
peer per change, counted from the manager's `write` lines.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import emby_client
import pytest

from manager.config import load_config
from manager.event import REPLAY_HEADER
from tests.support.live_cluster import addon_available
from tests.support.mixed_world import MIN_TICKS, PEERS, MixedWorld, running_mixed_world
from tests.support.polling import wait_for

pytestmark = pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree")

KIND_PATH = {"plex": "plex", "jelly": "jellyfin", "emby": "emby"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedWorld]:
    with running_mixed_world(tmp_path_factory.mktemp("webhook-only")) as world:
        config = load_config(world.manager.config, env={})
        for server in config.servers:
            url = (
                f"{world.manager.url}/webhooks/{KIND_PATH[server.name]}?apikey={server.webhook_key}"
            )
            world.cluster.webhook_to(server.name, url)
        yield world


def writes(world: MixedWorld, user: str, key: str) -> Counter[tuple[str, str]]:
    """(peer, change) -> how many write requests the manager made there for that user and
    title, as the emulated servers recorded them (the manager marks its own requests with
    the replay header; a write it retried after sending still counts once per request)."""
    found: Counter[tuple[str, str]] = Counter()
    for name, server in world.cluster.servers.items():
        try:  # the item, and the user, may not be on every server
            item = world.item(name, key)
            account = str(world.cluster.user_id(user, name)) if name != "plex" else None
            token = world.cluster.token_for(user, name) if name == "plex" else None
        except KeyError:
            continue
        for req in server.requests:
            if not any(h.lower() == REPLAY_HEADER.lower() for h in req.headers):
                continue
            change = _change_of(req.method, req.path, req.query, item)
            if change is None:
                continue
            mine = req.token == token if account is None else account in req.path + str(req.query)
            if mine:
                found[(name, change)] += 1
    return found


def _change_of(method: str, path: str, query: dict[str, str], item: str) -> str | None:
    """Which write a recorded request is, on the item; None for reads and other items."""
    bare = path.split("?", 1)[0].lower()
    if bare.startswith("/:/"):  # Plex: GET /:/scrobble?key=…, /:/timeline?ratingKey=…
        if item not in (query.get("key"), query.get("ratingKey")):
            return None
        return {"/:/scrobble": "played", "/:/unscrobble": "unplayed", "/:/timeline": "resume"}.get(
            bare.rstrip("/")
        )
    if method not in ("POST", "DELETE") or f"/{item.lower()}" not in bare:
        return None
    if bare.endswith("/userdata"):
        return "resume"
    if "playeditems/" in bare:
        return "unplayed" if method == "DELETE" or bare.endswith("/delete") else "played"
    return None


def assert_writes(world: MixedWorld, user: str, key: str, expected: dict) -> None:
    """One write per peer per change; on failure, what the manager said about the item."""
    found = writes(world, user, key)
    if found != expected:
        lines = [
            {k: v for k, v in line.items() if k not in ("timestamp", "component", "level")}
            for line in world.manager.logs()
            if line.get("user") == user and line.get("event") in ("event", "write")
        ]
        raise AssertionError(f"{user} {key}: writes {dict(found)} != {expected}\n{lines[-30:]}")


def quiet(world: MixedWorld) -> None:
    """Every webhook posted (echoes included) and the manager idle again."""
    world.cluster.flush_webhooks()
    time.sleep(1.0)

    def idle() -> bool:
        queue = world.manager.status()["queue"]
        return queue["events_pending"] == 0 and queue["writes"] == 0

    wait_for(idle, what="manager idle")


def test_plex_webhook_only_played_and_stopped_at_20(world: MixedWorld) -> None:
    plex = world.plex("alice", via_proxy=False)
    episode = plex.fetchItem(int(world.item("plex", "office/s01e01")))
    episode.updateTimeline(int(episode.duration * 0.95), "playing", episode.duration)  # scrobble
    episode.updateTimeline(int(episode.duration * 0.97), "stopped", episode.duration)
    for peer in PEERS["plex"]:
        world.wait_state(peer, "alice", "office/s01e01", played=True)
    movie = plex.fetchItem(int(world.item("plex", "matrix")))
    movie.updateTimeline(20 * 60_000, "playing", movie.duration)
    movie.updateTimeline(20 * 60_000, "stopped", movie.duration)
    for peer in PEERS["plex"]:
        world.wait_state(peer, "alice", "matrix", position_ms=20 * 60_000)
    quiet(world)
    assert_writes(
        world,
        "alice",
        "office/s01e01",
        {
            ("jelly", "played"): 1,
            ("emby", "played"): 1,
        },
    )
    assert_writes(world, "alice", "matrix", {("jelly", "resume"): 1, ("emby", "resume"): 1})


def test_jellyfin_webhook_only_played_stopped_at_20_and_unplayed(world: MixedWorld) -> None:
    client = world.jellyfin("admin", via_proxy=False).jellyfin
    episode = world.item("jelly", "office/s01e02")
    client.item_played(episode, True)
    for peer in PEERS["jelly"]:
        world.wait_state(peer, "admin", "office/s01e02", played=True)
    client.item_played(episode, False)
    for peer in PEERS["jelly"]:
        world.wait_state(peer, "admin", "office/s01e02", played=False)
    base = {"ItemId": world.item("jelly", "matrix"), "PlaySessionId": "hook-admin-matrix"}
    client.session_playing({**base, "PositionTicks": 0})
    client.session_stop({**base, "PositionTicks": 20 * MIN_TICKS})
    for peer in PEERS["jelly"]:
        world.wait_state(peer, "admin", "matrix", position_ms=20 * 60_000)
    quiet(world)
    assert_writes(
        world,
        "admin",
        "office/s01e02",
        {
            ("plex", "played"): 1,
            ("emby", "played"): 1,
            ("plex", "unplayed"): 1,
            ("emby", "unplayed"): 1,
        },
    )
    assert_writes(world, "admin", "matrix", {("plex", "resume"): 1, ("emby", "resume"): 1})


def test_emby_webhook_only_played_stopped_at_20_and_unplayed(world: MixedWorld) -> None:
    emby = world.emby("alice", via_proxy=False)
    uid, episode = world.cluster.user_id("alice", "emby"), world.item("emby", "office/s01e03")
    emby.post_users_by_userid_playeditems_by_id(uid, episode)
    for peer in PEERS["emby"]:
        world.wait_state(peer, "alice", "office/s01e03", played=True)
    emby.delete_users_by_userid_playeditems_by_id(uid, episode)
    for peer in PEERS["emby"]:
        world.wait_state(peer, "alice", "office/s01e03", played=False)
    # bob has no Jellyfin account: his stop on Emby reaches Plex only.
    bob = world.emby("bob", via_proxy=False)
    matrix = world.item("emby", "matrix")
    bob.post_sessions_playing(emby_client.PlaybackStartInfo(item_id=matrix, position_ticks=0))
    bob.post_sessions_playing_stopped(
        emby_client.PlaybackStopInfo(item_id=matrix, position_ticks=20 * MIN_TICKS)
    )
    world.wait_state("plex", "bob", "matrix", position_ms=20 * 60_000)
    quiet(world)
    assert_writes(
        world,
        "alice",
        "office/s01e03",
        {
            ("plex", "played"): 1,
            ("jelly", "played"): 1,
            ("plex", "unplayed"): 1,
            ("jelly", "unplayed"): 1,
        },
    )
    assert_writes(world, "bob", "matrix", {("plex", "resume"): 1})
