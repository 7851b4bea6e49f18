"""python-plexapi talks to an emulated Plex server through a real mitmdump with our addon.

Delivery is in spool order, so "exactly one event" is checked by sending a sentinel
request after the action and waiting for the sentinel's event: whatever the action
produced has arrived by then.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import plexapi
import pytest
from plexapi.exceptions import Unauthorized
from plexapi.server import PlexServer

from manager.event import PlaybackEvent
from tests.fakeplex import Cluster, FakeServer
from tests.proxy.harness import Receiver, wait_for
from tests.support.processes import MitmdumpProcess, mitmdump_proxy

SERVER_NAME = "alpha-proxy"
LIB = "com.plexapp.plugins.library"
_sentinels = itertools.count()


@pytest.fixture(scope="module")
def alpha(cluster: Cluster) -> FakeServer:
    return cluster.servers["alpha"]


@pytest.fixture(scope="module")
def proxy(
    alpha: FakeServer, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MitmdumpProcess]:
    p = mitmdump_proxy(
        alpha.url,
        tmp_path_factory.mktemp("plexapi-proxy"),
        manager=receiver.url,
        extra=["--set", f"cluster_server_name={SERVER_NAME}"],
    )
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def plex(proxy: MitmdumpProcess, alpha: FakeServer) -> PlexServer:
    return PlexServer(proxy.url, alpha.owner_token, timeout=15)


@pytest.fixture(scope="module")
def matrix(alpha: FakeServer) -> str:
    return alpha.find_key(None, title="The Matrix")


def collect(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, action: Callable[[], Any]
) -> list[dict[str, Any]]:
    """Events caused by `action`, known complete once a later sentinel event has arrived."""
    receiver.clear()
    action()
    marker = f"sentinel-{next(_sentinels)}"
    rk = alpha.find_key(None, title="Heat")
    resp = httpx.get(
        f"{proxy.url}/:/scrobble",
        params={"key": rk, "identifier": LIB},
        headers={"X-Plex-Token": alpha.owner_token, "X-Plex-Client-Identifier": marker},
        timeout=15,
    )
    assert resp.status_code == 200

    def arrived() -> tuple[list[dict[str, Any]]] | None:
        events = receiver.events()
        if any(e.get("client_id") == marker for e in events):
            return ([e for e in events if e.get("client_id") != marker],)
        return None

    return wait_for(arrived, timeout=30)[0]


def _check_common(event: dict[str, Any], alpha: FakeServer, token: str) -> PlaybackEvent:
    parsed = PlaybackEvent.from_dict(event)  # the manager's own parser accepts it
    assert parsed.token == token
    assert parsed.upstream_url.rstrip("/") == alpha.url.rstrip("/")
    assert parsed.machine_identifier == alpha.machine_identifier
    assert parsed.proxy_name == SERVER_NAME
    assert parsed.upstream_status == 200
    return parsed


def test_mark_played(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, plex: PlexServer, matrix: str
) -> None:
    item = plex.fetchItem(int(matrix))
    events = collect(proxy, alpha, receiver, item.markPlayed)
    assert len(events) == 1
    e = _check_common(events[0], alpha, alpha.owner_token)
    assert (e.kind, e.rating_key, e.key, e.state) == ("scrobble", matrix, matrix, None)
    assert e.client_id == plexapi.X_PLEX_IDENTIFIER
    assert e.product == plexapi.X_PLEX_PRODUCT
    assert e.device == plexapi.X_PLEX_DEVICE_NAME
    assert alpha.state("admin", matrix)["view_count"] >= 1  # Plex got the request too


def test_mark_unplayed(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, plex: PlexServer, matrix: str
) -> None:
    item = plex.fetchItem(int(matrix))
    events = collect(proxy, alpha, receiver, item.markUnplayed)
    assert len(events) == 1
    e = _check_common(events[0], alpha, alpha.owner_token)
    assert (e.kind, e.rating_key, e.state) == ("unscrobble", matrix, None)
    assert alpha.state("admin", matrix)["view_count"] == 0


def test_update_timeline_stopped(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, plex: PlexServer
) -> None:
    rk = alpha.find_key(None, title="Inception")
    item = plex.fetchItem(int(rk))
    events = collect(
        proxy, alpha, receiver, lambda: item.updateTimeline(60_000, "stopped", item.duration)
    )
    assert len(events) == 1
    e = _check_common(events[0], alpha, alpha.owner_token)
    assert (e.kind, e.rating_key, e.key, e.state) == (
        "timeline",
        rk,
        f"/library/metadata/{rk}",
        "stopped",
    )
    assert (e.time_ms, e.duration_ms) == (60_000, item.duration)


def test_update_progress(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, plex: PlexServer
) -> None:
    rk = alpha.find_key(None, title="Arrival")
    item = plex.fetchItem(int(rk))
    events = collect(proxy, alpha, receiver, lambda: item.updateProgress(30_000, "stopped"))
    assert len(events) == 1
    e = _check_common(events[0], alpha, alpha.owner_token)
    assert (e.kind, e.rating_key, e.state, e.time_ms) == ("progress", rk, "stopped", 30_000)


def test_query_token_like_plex_web(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, cluster: Cluster
) -> None:
    rk = alpha.find_key("alice", title="The Matrix")
    token = cluster.token_for("alice", "alpha")
    params = {
        "ratingKey": rk,
        "key": f"/library/metadata/{rk}",
        "state": "playing",
        "time": "5000",
        "duration": "8160000",
        "X-Plex-Token": token,
        "X-Plex-Client-Identifier": "web-client-1",
        "X-Plex-Product": "Plex Web",
    }
    events = collect(
        proxy,
        alpha,
        receiver,
        lambda: httpx.get(f"{proxy.url}/:/timeline/", params=params, timeout=15).raise_for_status(),
    )
    assert len(events) == 1
    e = _check_common(events[0], alpha, token)
    assert (e.kind, e.state, e.time_ms, e.client_id, e.product) == (
        "timeline",
        "playing",
        5000,
        "web-client-1",
        "Plex Web",
    )


def test_refused_request_reports_nothing(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, cluster: Cluster, matrix: str
) -> None:
    def refused() -> None:
        bad = httpx.get(
            f"{proxy.url}/:/scrobble",
            params={"key": matrix, "identifier": LIB},
            headers={"X-Plex-Token": "not-a-valid-token"},
            timeout=15,
        )
        assert bad.status_code == 401
        # an invited user may not use /:/progress (Plex answers 401): plexapi raises
        alice = PlexServer(proxy.url, cluster.token_for("alice", "alpha"), timeout=15)
        item = alice.fetchItem(int(alpha.find_key("alice", title="Arrival")))
        with pytest.raises(Unauthorized):
            item.updateProgress(1000, "stopped")

    assert collect(proxy, alpha, receiver, refused) == []


def test_replay_marked_requests_pass_but_are_not_reported(
    proxy: MitmdumpProcess, alpha: FakeServer, receiver: Receiver, matrix: str
) -> None:
    alpha.clear_requests()

    def replays() -> None:
        common = {"X-Plex-Token": alpha.owner_token, "X-Plex-Client-Identifier": "manager"}
        r1 = httpx.get(
            f"{proxy.url}/:/scrobble",
            params={"key": matrix, "identifier": LIB},
            headers={**common, "X-Plex-Cluster-Replay": "1"},
            timeout=15,
        )
        r2 = httpx.get(
            f"{proxy.url}/:/unscrobble",
            params={"key": matrix, "identifier": LIB, "plex-cluster": "1"},
            headers=common,
            timeout=15,
        )
        assert (r1.status_code, r2.status_code) == (200, 200)

    assert collect(proxy, alpha, receiver, replays) == []
    paths = [r.path.split("?")[0] for r in alpha.requests if r.client_id == "manager"]
    assert paths == ["/:/scrobble", "/:/unscrobble"]


def test_plex_sees_the_client_and_its_host(
    proxy: MitmdumpProcess, alpha: FakeServer, plex: PlexServer
) -> None:
    alpha.clear_requests()
    plex.library.sections()
    seen = alpha.requests[-1]
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == f"127.0.0.1:{proxy.port}"


def test_spoofed_forwarded_for_is_replaced(proxy: MitmdumpProcess, alpha: FakeServer) -> None:
    alpha.clear_requests()
    httpx.get(
        f"{proxy.url}/identity", headers={"X-Forwarded-For": "192.168.0.7"}, timeout=15
    ).raise_for_status()
    headers = {k.lower(): v for k, v in alpha.requests[-1].headers.items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_no_token_in_proxy_output(
    proxy: MitmdumpProcess, cluster: Cluster, plex: PlexServer
) -> None:
    """Runs last in this module: every request above went through mitmdump's flow log."""
    plex.library.sections()
    output = proxy.output()
    assert "/:/scrobble" in output and "X-Plex-Token=" in output  # the flow lines are there
    tokens = {cluster.account_token(u) for u in cluster.users}
    for server in cluster.servers.values():
        tokens.update(server.user_tokens.values())
    leaked = [t for t in tokens if t and t in output]
    assert leaked == []
    assert "test-secret" not in output  # the manager token either
