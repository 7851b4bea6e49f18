"""Nothing is lost: the manager away for a while, the proxy killed with events spooled."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx

from addons.spool import Spool
from tests.fakeplex import Cluster, FakeServer
from tests.proxy.harness import Receiver, wait_for
from tests.support.processes import MitmdumpProcess, mitmdump_proxy

LIB = "com.plexapp.plugins.library"
_markers = itertools.count()


def playback_requests(proxy: MitmdumpProcess, server: FakeServer, cluster: Cluster) -> list[str]:
    """Five accepted playback requests of mixed kinds; returns their client ids in order."""
    alice = cluster.token_for("alice", server.name)
    movies = [server.find_key(None, title=t) for t in ("The Matrix", "Inception", "Arrival")]
    ids = []
    for n, (path, params, token) in enumerate(
        [
            ("/:/scrobble", {"key": movies[0], "identifier": LIB}, server.owner_token),
            ("/:/timeline", {"ratingKey": movies[1], "state": "playing", "time": "1000"}, alice),
            ("/:/timeline", {"ratingKey": movies[1], "state": "playing", "time": "11000"}, alice),
            ("/:/timeline/", {"ratingKey": movies[1], "state": "stopped", "time": "12000"}, alice),
            ("/:/unscrobble", {"key": movies[2], "identifier": LIB}, server.owner_token),
        ]
    ):
        client_id = f"client-{next(_markers)}-{n}"
        if path == "/:/timeline" or path == "/:/timeline/":
            params = {
                **params,
                "key": f"/library/metadata/{params['ratingKey']}",
                "duration": "9000000",
            }
        # alternate header and query tokens
        headers = {"X-Plex-Client-Identifier": client_id}
        if n % 2:
            params = {**params, "X-Plex-Token": token}
        else:
            headers["X-Plex-Token"] = token
        resp = httpx.get(proxy.url + path, params=params, headers=headers, timeout=15)
        assert resp.status_code == 200, resp.text
        ids.append(client_id)
    return ids


def arrived_once(receiver: Receiver, client_ids: list[str]) -> list[dict[str, Any]]:
    events = wait_for(
        lambda: (e := receiver.events()) and len(e) >= len(client_ids) and e, timeout=30
    )
    got = [e["client_id"] for e in events]
    assert got == client_ids  # all of them, once each, in the order they happened
    assert len({e["id"] for e in events}) == len(events)
    return events


def test_manager_down_then_up(cluster: Cluster, fresh_receiver: Receiver, tmp_path: Path) -> None:
    alpha = cluster.servers["alpha"]
    fresh_receiver.down()
    proxy = mitmdump_proxy(alpha.url, tmp_path, manager=fresh_receiver.url, extra=["-v"])
    proxy.start()
    try:
        ids = playback_requests(proxy, alpha, cluster)
        wait_for(lambda: "manager unavailable" in proxy.output())
        fresh_receiver.up()
        events = arrived_once(fresh_receiver, ids)
        assert all(
            r.headers.get("Authorization") == "Bearer test-secret" for r in fresh_receiver.received
        )
        assert [e["kind"] for e in events] == [
            "scrobble",
            "timeline",
            "timeline",
            "timeline",
            "unscrobble",
        ]
        # one more after the backlog: nothing from before shows up twice
        more = playback_requests(proxy, alpha, cluster)
        wait_for(lambda: len(fresh_receiver.events()) >= 10)
        assert [e["client_id"] for e in fresh_receiver.events()] == ids + more
    finally:
        proxy.stop()
    # -v prints every request header, X-Plex-Token included: redacted
    output = proxy.output()
    assert "X-Plex-Token: " in output
    for token in (alpha.owner_token, cluster.token_for("alice", "alpha"), "test-secret"):
        assert token not in output


def test_killed_proxy_delivers_its_spool_after_restart(
    cluster: Cluster, fresh_receiver: Receiver, tmp_path: Path
) -> None:
    beta = cluster.servers["beta"]
    fresh_receiver.down()
    first = mitmdump_proxy(beta.url, tmp_path, manager=fresh_receiver.url)
    first.start()
    try:
        ids = playback_requests(first, beta, cluster)
    finally:
        first.kill()  # SIGKILL: no shutdown hook runs
    spool = Spool(tmp_path / "data")
    assert spool.count() == len(ids)
    spool.close()

    fresh_receiver.up()
    second = mitmdump_proxy(beta.url, tmp_path, manager=fresh_receiver.url)
    second.start()
    try:
        events = arrived_once(fresh_receiver, ids)
        assert {e["upstream_url"].rstrip("/") for e in events} == {beta.url.rstrip("/")}
        wait_for(lambda: Spool(tmp_path / "data").count() == 0)
    finally:
        second.stop()
