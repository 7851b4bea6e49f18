"""The proxy in front of the Jellyfin and Emby emulators (tests/fakejelly, `mixed` fixture),
driven by jellyfin-apiclient-python through the proxy on Jellyfin and by plain requests
under `/emby/` on Emby: what the emulator accepted arrives as events, with the kind the
proxy detected by itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jellyfin_apiclient_python import JellyfinClient

from tests.fakeplex import Cluster, start_cluster
from tests.proxy.harness import Receiver, wait_for
from tests.support.processes import MitmdumpProcess, mitmdump_proxy

TICKS_PER_MIN = 60 * 10_000_000


@pytest.fixture(scope="module")
def mixed() -> Iterator[Cluster]:
    with start_cluster("mixed") as cluster:
        yield cluster


def _proxy(upstream: str, workdir: Path, receiver: Receiver) -> MitmdumpProcess:
    return mitmdump_proxy(upstream, workdir, manager=receiver.url).start()


def _events(receiver: Receiver, rating_key: str, count: int) -> list[dict[str, Any]]:
    def got() -> list[dict[str, Any]] | None:
        found = [e for e in receiver.events() if e.get("rating_key") == rating_key]
        return found if len(found) >= count else None

    return wait_for(got)


def _login(url: str, name: str, password: str) -> JellyfinClient:
    logging.getLogger("JELLYFIN").setLevel(logging.WARNING)
    client = JellyfinClient()
    client.config.app("plex-cluster-tests", "1.0", "alice-box", "dev-alice")
    client.config.data["auth.ssl"] = False
    assert client.auth.connect_to_address(url)["State"] is not None
    assert client.auth.login(url, name, password), "login through the proxy failed"
    client.logged_in = True
    client.start()
    return client


def test_a_jellyfin_client_through_the_proxy(
    mixed: Cluster, fresh_receiver: Receiver, tmp_path: Path
) -> None:
    srv = mixed.jellyfin("jelly")
    proxy = _proxy(srv.url, tmp_path, fresh_receiver)
    client = None
    try:
        client = _login(proxy.url, srv.display_names["alice"], srv.passwords["alice"])
        api = client.jellyfin
        heat, matrix = srv.item_id("heat"), srv.item_id("matrix")
        base = {"ItemId": matrix, "PlaySessionId": "proxy-test"}
        api.session_playing({**base, "PositionTicks": 0})
        api.session_progress({**base, "PositionTicks": 10 * TICKS_PER_MIN, "IsPaused": True})
        api.session_stop({**base, "PositionTicks": 20 * TICKS_PER_MIN})
        api.item_played(heat, True)
        api.item_played(heat, False)

        got = [(e["kind"], e["state"], e["time_ms"]) for e in _events(fresh_receiver, matrix, 3)]
        assert got == [
            ("timeline", "playing", 0),
            ("timeline", "paused", 600_000),
            ("timeline", "stopped", 1_200_000),
        ]
        assert srv.state("alice", matrix)["position_ticks"] == 20 * TICKS_PER_MIN  # it arrived
        marks = _events(fresh_receiver, heat, 2)
        alice = srv.user_id("alice")
        assert [(e["kind"], e["account_id"]) for e in marks] == [
            ("scrobble", alice),
            ("unscrobble", alice),
        ]
        first = marks[0]
        assert first["token"]  # the session's own access token, from the login
        assert (first["client_id"], first["device"]) == ("dev-alice", "alice-box")
        assert first["machine_identifier"] == srv.server_id
        assert "kind='jellyfin'" in proxy.output()
    finally:
        if client is not None:
            client.stop()
        proxy.stop()


def test_emby_under_its_prefix_and_refusals(
    mixed: Cluster, fresh_receiver: Receiver, tmp_path: Path
) -> None:
    srv = mixed.jellyfin("emby")
    proxy = _proxy(srv.url, tmp_path, fresh_receiver)
    try:
        uid, token = srv.user_id("bob"), srv.token_for("bob")
        item = next(
            srv.item_id(k)
            for k in ("matrix", "inception", "heat", "arrival", "short")
            if k in srv.library.by_key
        )
        with httpx.Client(base_url=proxy.url, headers={"X-Emby-Token": token}, timeout=15) as c:
            stop = {"ItemId": item, "PositionTicks": 30 * TICKS_PER_MIN}
            assert c.post("/emby/Sessions/Playing", json={**stop, "PositionTicks": 0}).is_success
            assert c.post("/emby/Sessions/Playing/Stopped", json=stop).is_success
            assert c.post(f"/emby/Users/{uid}/PlayedItems/{item}").is_success
            # refused by the server: a credential it does not know, an item it lacks
            wrong = {"X-Emby-Token": "0" * 32}
            assert c.post(f"/emby/Users/{uid}/PlayedItems/{item}", headers=wrong).status_code in (
                401,
                403,
            )
            assert c.post(f"/emby/Users/{uid}/PlayedItems/999999999").status_code >= 400
            # the manager's own write
            replay = {"X-Plex-Cluster-Replay": "1"}
            assert c.delete(f"/emby/Users/{uid}/PlayedItems/{item}", headers=replay).is_success
            # the marker: everything before it has been handled once it arrives
            assert c.delete(f"/emby/Users/{uid}/PlayedItems/{item}").is_success
        events = _events(fresh_receiver, item, 4)
        got = [(e["kind"], e["state"], e["time_ms"], e["account_id"]) for e in events]
        assert got == [
            ("timeline", "playing", 0, None),
            ("timeline", "stopped", 1_800_000, None),
            ("scrobble", None, None, uid),
            ("unscrobble", None, None, uid),
        ]
        assert [e for e in fresh_receiver.events() if e["rating_key"] == "999999999"] == []
        assert "kind='emby'" in proxy.output()
    finally:
        proxy.stop()
