"""Webhooks end to end (issue 12 §2): the mixed emulator cluster (one Plex, Jellyfin
"jelly", Emby "emby") and the manager as a subprocess, with no proxy at all. A change is
made directly on a server (the emulator's state), then the webhook that server would post
for it arrives at the manager: the change reaches the peers for the same user, with one
write per peer per change; a duplicated webhook, a webhook echoing a state the ledger
holds, or one with a wrong key changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from manager.config import load_config
from tests.fakeplex import Cluster, start_cluster
from tests.support.configs import write_config
from tests.support.live_cluster import ManagerProcess
from tests.support.mixed_world import USER_MAP
from tests.support.polling import wait_for
from tests.support.processes import free_port
from tests.support.webhooks import multipart, payload, plex_body

TICKS_PER_MS = 10_000
PEERS = {"plex": ("jelly", "emby"), "jelly": ("plex", "emby"), "emby": ("plex", "jelly")}
PATHS = {"plex": "/webhooks/plex", "jelly": "/webhooks/jellyfin", "emby": "/webhooks/emby"}


@dataclass
class World:
    cluster: Cluster
    manager: ManagerProcess
    keys: dict[str, str]

    def post(
        self, server: str, content: bytes, ctype: str, key: str | None = None
    ) -> httpx.Response:
        return httpx.post(
            self.manager.url + PATHS[server],
            params={"apikey": key or self.keys[server]},
            content=content,
            headers={"Content-Type": ctype},
            timeout=10,
        )

    def writes(self, user: str, key: str) -> list[tuple[str, str]]:
        """(peer, change) of every write delivered for that user and title (catalogue key)."""
        lines = self.manager.log_lines("write", outcome="delivered", user=user)
        return sorted(
            (w["peer"], w["change"])
            for w in lines
            if w.get("item_id") == self.cluster.item_id(w["peer"], key)
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("webhooks")
    with start_cluster("mixed") as cluster:
        port = free_port()
        config = write_config(cluster, workdir, port, users=USER_MAP)
        keys = {s.name: s.webhook_key for s in load_config(config, env={}).servers}
        manager = ManagerProcess(config, workdir, port).start()
        try:
            yield World(cluster, manager, keys)
        finally:
            manager.stop()


def wait_state(world: World, server: str, user: str, key: str, **want: object) -> None:
    def holds() -> bool:
        state = world.cluster.state(server, user, key)
        return all(state[k] == v for k, v in want.items())

    wait_for(holds, what=f"{user} {key} on {server}: {want}")


def jellyfin_saved(world: World, user: str, key: str, played: bool) -> bytes:
    data = payload(
        "jellyfin",
        "UserDataSaved played" if played else "UserDataSaved unplayed",
        item=world.cluster.item_id("jelly", key),
        user=world.cluster.user_id(user, "jelly"),
    )
    return json.dumps(data).encode()


def emby_body(world: World, name: str, user: str, key: str, ticks: int = 0) -> bytes:
    data = payload(
        "emby",
        name,
        item=world.cluster.item_id("emby", key),
        user=world.cluster.user_id(user, "emby"),
        ticks=ticks,
    )
    return json.dumps(data).encode()


def settle(world: World, seconds: float = 1.5) -> None:
    """Give the manager time to do anything it was going to do (nothing, here)."""
    time.sleep(seconds)


def test_jellyfin_played_then_emby_unplayed_reach_every_peer_once(world: World) -> None:
    user, key = "alice", "matrix"
    world.cluster.set_state("jelly", user, key, played=True)
    body = jellyfin_saved(world, user, key, played=True)
    r = world.post("jelly", body, "text/plain")  # the plugin's default content type
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
    for peer in PEERS["jelly"]:
        wait_state(world, peer, user, key, played=True)
    # The same webhook again (a retry): one event, nothing more written.
    assert world.post("jelly", body, "text/plain").json() == {"accepted": 0, "duplicates": 1}
    # Emby marks it unplayed by hand; Emby 4.8 posts multipart with a `data` field.
    world.cluster.set_state("emby", user, key, played=False)
    form = {"data": emby_body(world, "item.markunplayed", user, key).decode()}
    content, ctype = multipart(form)
    assert world.post("emby", content, ctype).json()["accepted"] == 1
    for peer in PEERS["emby"]:
        wait_state(world, peer, user, key, played=False)
    # Our write made Jellyfin unplayed; it would notify that too: an echo, not news.
    echo = jellyfin_saved(world, user, key, played=False)
    assert world.post("jelly", echo, "application/json").json()["accepted"] == 1
    settle(world)
    assert world.writes(user, key) == [
        ("emby", "played"),
        ("jelly", "unplayed"),
        ("plex", "played"),
        ("plex", "unplayed"),
    ]
    assert not any(world.cluster.state(p, "admin", key)["played"] for p in PEERS["jelly"])


def test_emby_stop_at_20_minutes_reaches_plex_and_jellyfin(world: World) -> None:
    user, key, ms = "admin", "matrix", 20 * 60_000
    world.cluster.set_state("emby", user, key, position_ms=ms)
    body = emby_body(world, "playback.stop", user, key, ticks=ms * TICKS_PER_MS)
    assert world.post("emby", body, "application/json").json()["accepted"] == 1
    for peer in PEERS["emby"]:
        wait_state(world, peer, user, key, position_ms=ms)
    # Our own session's report (the write we just made, were it one) is dropped at the door.
    replay = json.loads(body)
    replay["Session"]["Client"] = "Plex Cluster"
    r = world.post("emby", json.dumps(replay).encode(), "application/json")
    assert r.json() == {"ignored": "playback.stop: our own replay"}
    settle(world)
    assert world.writes(user, key) == [("jelly", "resume"), ("plex", "resume")]


def test_plex_scrobble_by_a_shared_user_reaches_jellyfin_and_emby(world: World) -> None:
    user, key = "alice", "office/s01e02"
    world.cluster.set_state("plex", user, key, played=True)
    content, ctype = plex_body(
        "media.scrobble",
        thumb=b"\xff\xd8\xff" + bytes(1000),
        item=world.cluster.item_id("plex", key),
        account=int(world.cluster.user_id(user, "plex")),
        server=world.cluster.servers["plex"].machine_identifier,
    )
    assert world.post("plex", content, ctype).json()["accepted"] == 1
    for peer in PEERS["plex"]:
        wait_state(world, peer, user, key, played=True)
    assert not world.cluster.state("jelly", "admin", key)["played"]


def test_a_change_seen_by_a_proxy_and_a_webhook_is_applied_once(world: World) -> None:
    user, key = "admin", "office/s01e04"
    world.cluster.set_state("jelly", user, key, played=True)
    item, account = world.cluster.item_id("jelly", key), world.cluster.user_id(user, "jelly")
    # What the proxy in front of Jellyfin reports for the client's request...
    proxied = {
        "v": 1,
        "id": f"proxy-{item}",
        "kind": "scrobble",
        "rating_key": item,
        "token": world.cluster.jellyfin("jelly").user_tokens[user],
        "upstream_url": world.cluster.servers["jelly"].url,
        "account_id": account,
        "seen_at": time.time(),
    }
    assert world.manager.post(proxied).status_code == 202
    # ...and the plugin's webhook for the same change, a moment later.
    assert (
        world.post("jelly", jellyfin_saved(world, user, key, True), "text/plain").status_code == 200
    )
    for peer in PEERS["jelly"]:
        wait_state(world, peer, user, key, played=True)
    settle(world)
    assert world.writes(user, key) == [("emby", "played"), ("plex", "played")]
    assert world.cluster.state("plex", user, key)["play_count"] == 1


def test_a_wrong_key_changes_nothing(world: World) -> None:
    user, key = "admin", "office/s01e05"
    world.cluster.set_state("emby", user, key, played=True)
    body = emby_body(world, "item.markplayed", user, key)
    for wrong in ("guess-guess-guess-guess", world.keys["jelly"][:-1] + "0"):
        r = world.post("emby", body, "application/json", key=wrong)
        assert r.status_code == 401
    # Another server's key on this path: refused too (400, it names the mismatch).
    r = world.post("emby", body, "application/json", key=world.keys["jelly"])
    assert r.status_code == 400 and "jellyfin" in r.json()["error"]
    settle(world)
    assert not world.cluster.state("plex", user, key)["played"]
    assert not world.cluster.state("jelly", user, key)["played"]
