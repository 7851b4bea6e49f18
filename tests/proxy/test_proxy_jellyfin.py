"""The proxy in front of Jellyfin and Emby: a real mitmdump with the addon, a Jellyfin-like
upstream (tests/proxy/jelly_upstream.py) and the manager stand-in.

The Jellyfin proxy detects its kind (cluster_server_kind=auto), the Emby one is told; a
client's playback reports, played/unplayed and user-data writes arrive as events; what
the server refused, what the manager replayed and what is ambiguous does not; streams and
the websocket pass; no credential shows in full in mitmdump's output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.proxy.harness import Receiver, WsClient, media_bytes, wait_for
from tests.proxy.jelly_upstream import SERVER_ID, TOKEN, JellyUpstream
from tests.support.processes import MitmdumpProcess, mitmdump_proxy

USER = "6b1f4e2a9c3d4f5e8a7b6c5d4e3f2a1b"
ITEM = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
AUTH = (
    'MediaBrowser Client="Jellyfin Web", Device="Firefox", DeviceId="dev-0042", '
    f'Version="10.10.7", Token="{TOKEN}"'
)
REPLAY = {"X-Plex-Cluster-Replay": "1"}


@pytest.fixture(scope="module")
def jellyfin() -> Iterator[JellyUpstream]:
    up = JellyUpstream("jellyfin")
    try:
        yield up
    finally:
        up.stop()


@pytest.fixture(scope="module")
def proxy(
    jellyfin: JellyUpstream, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MitmdumpProcess]:
    workdir = tmp_path_factory.mktemp("jf-proxy")
    # flow_detail 2: mitmdump prints every header, so the redaction test has lines to read
    extra = ["--set", "flow_detail=2"]
    p = mitmdump_proxy(jellyfin.url, workdir, manager=receiver.url, extra=extra)
    p.start()
    try:
        yield p
    finally:
        p.stop()


def _client(proxy: MitmdumpProcess) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, headers={"Authorization": AUTH}, timeout=15)


def _events_for(receiver: Receiver, rating_key: str, count: int) -> list[dict[str, Any]]:
    def got() -> list[dict[str, Any]] | None:
        found = [e for e in receiver.events() if e.get("rating_key") == rating_key]
        return found if len(found) >= count else None

    return wait_for(got)


def test_the_kind_is_detected_once_from_the_public_system_info(
    proxy: MitmdumpProcess, jellyfin: JellyUpstream
) -> None:
    wait_for(lambda: "server kind detected" in proxy.output())
    lines = [ln for ln in proxy.output().splitlines() if "server kind detected" in ln]
    assert len(lines) == 1 and "kind='jellyfin'" in lines[0], lines
    assert jellyfin.info_asked == 1


def test_playback_reports_arrive_with_state_and_time(
    proxy: MitmdumpProcess, receiver: Receiver
) -> None:
    item = ITEM[:-2] + "01"
    with _client(proxy) as c:
        body: dict[str, Any] = {"ItemId": item, "PositionTicks": 0, "PlaySessionId": "ps1"}
        assert c.post("/Sessions/Playing", json=body).status_code == 204
        body.update(PositionTicks=600_000_000, IsPaused=True)
        assert c.post("/Sessions/Playing/Progress", json=body).status_code == 204
        body.update(PositionTicks=12_000_000_000)
        assert c.post("/sessions/playing/stopped", json=body).status_code == 204
    events = _events_for(receiver, item, 3)
    got = [(e["kind"], e["state"], e["time_ms"]) for e in events]
    assert got == [
        ("timeline", "playing", 0),
        ("timeline", "paused", 60_000),
        ("timeline", "stopped", 1_200_000),
    ]
    first = events[0]
    assert first["token"] == TOKEN
    assert (first["client_id"], first["product"], first["device"]) == (
        "dev-0042",
        "Jellyfin Web",
        "Firefox",
    )
    assert first["upstream_status"] == 204
    assert first["machine_identifier"] == SERVER_ID  # the delivery read /System/Info/Public
    assert first["account_id"] is None  # the credential alone says whose


def test_played_unplayed_and_user_data_arrive_with_the_user(
    proxy: MitmdumpProcess, receiver: Receiver
) -> None:
    played, legacy, data = (ITEM[:-2] + n for n in ("02", "03", "04"))
    with _client(proxy) as c:
        assert c.post(f"/UserPlayedItems/{played}", params={"userId": USER}).status_code == 200
        assert c.delete(f"/UserPlayedItems/{played}", params={"userId": USER}).status_code == 200
        assert c.post(f"/Users/{USER}/PlayedItems/{legacy}").status_code == 200
        resume = {"PlaybackPositionTicks": 9_000_000_000, "Played": False}
        assert c.post(f"/UserItems/{data}/UserData", json=resume).status_code == 200
        watched = {"Played": True}
        assert c.post(f"/Users/{USER}/Items/{data}/UserData", json=watched).status_code == 200
    assert [(e["kind"], e["account_id"]) for e in _events_for(receiver, played, 2)] == [
        ("scrobble", USER),
        ("unscrobble", USER),
    ]
    assert [(e["kind"], e["account_id"]) for e in _events_for(receiver, legacy, 1)] == [
        ("scrobble", USER)
    ]
    got = [(e["kind"], e["time_ms"], e["account_id"]) for e in _events_for(receiver, data, 2)]
    assert got == [("progress", 900_000, None), ("scrobble", None, USER)]


def test_refused_replayed_and_ambiguous_requests_are_not_reported(
    proxy: MitmdumpProcess, receiver: Receiver
) -> None:
    item, marker = ITEM[:-2] + "05", ITEM[:-2] + "06"
    with _client(proxy) as c:
        body = {"ItemId": item, "PositionTicks": 10}
        # 401: a credential the server does not know
        bad = {"Authorization": AUTH.replace(TOKEN, "f" * 32)}
        assert c.post("/Sessions/Playing/Stopped", json=body, headers=bad).status_code == 401
        # 404: an item the server does not have
        assert c.post("/UserPlayedItems/missing", params={"userId": USER}).status_code == 404
        # the manager's own write
        assert c.post(f"/UserPlayedItems/{item}", headers=REPLAY).status_code == 200
        # two different credentials: the server takes one of them, we cannot know which
        two = {"X-Emby-Token": "e" * 32}
        assert c.post("/Sessions/Playing/Stopped", json=body, headers=two).status_code == 204
        # the path and the body name different items
        other = {"ItemId": ITEM, "Played": True}
        assert c.post(f"/UserItems/{item}/UserData", json=other).status_code == 200
        # a position that is not a whole non-negative number of ticks
        for ticks in (-5, 1.5, "1e9"):
            bad_body = {"ItemId": item, "PositionTicks": ticks}
            assert c.post("/Sessions/Playing/Progress", json=bad_body).status_code == 204
        # not JSON
        garbled = c.post(
            "/Sessions/Playing", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert garbled.status_code == 204
        # the marker: once it arrives, everything sent before it has been handled
        assert c.post(f"/UserPlayedItems/{marker}").status_code == 200
    _events_for(receiver, marker, 1)
    assert [e for e in receiver.events() if e.get("rating_key") in (item, "missing")] == []
    assert "Traceback" not in proxy.output()


def test_a_range_request_and_a_websocket_pass_through(proxy: MitmdumpProcess) -> None:
    size = 300 * 1024 * 1024
    start, end = 200_000_000, 200_999_999
    resp = httpx.get(
        f"{proxy.url}/file?size={size}", headers={"Range": f"bytes={start}-{end}"}, timeout=30
    )
    assert resp.status_code == 206
    assert resp.content == media_bytes(start, end + 1)
    with httpx.stream("GET", f"{proxy.url}/file?size={size}", timeout=60) as whole:
        assert sum(len(chunk) for chunk in whole.iter_raw(1 << 20)) == size
    ws = WsClient(proxy.port, "/ws")
    try:
        ws.send(b'{"MessageType":"KeepAlive"}')
        assert ws.receive() == b'{"MessageType":"KeepAlive"}'
    finally:
        ws.close()


def test_no_credential_in_full_in_mitmdumps_output(proxy: MitmdumpProcess) -> None:
    keys = [f"{n:x}" * 32 for n in range(7, 10)]
    with httpx.Client(base_url=proxy.url, timeout=15) as c:
        c.get("/Items", params={"ApiKey": keys[0]})
        c.get("/Items", params={"api_key": keys[1]})
        c.get("/Items", headers={"X-MediaBrowser-Token": keys[2]})
        c.get("/Items", headers={"Authorization": AUTH})
    text = proxy.output()
    assert "X-MediaBrowser-Token" in text  # the headers were printed
    leaked = [k for k in [*keys, TOKEN] if k[4:] in text]
    assert leaked == []


def test_emby_under_its_prefix_with_the_kind_set(
    receiver: Receiver, tmp_path: Path, jellyfin: JellyUpstream
) -> None:
    emby = JellyUpstream("emby")
    extra = ["--set", "cluster_server_kind=emby"]
    p = mitmdump_proxy(emby.url, tmp_path, manager=receiver.url, extra=extra)
    p.start()
    try:
        headers = {"X-Emby-Token": TOKEN, "Content-Type": "application/json"}
        with httpx.Client(base_url=p.url, headers=headers, timeout=15) as c:
            body = json.dumps({"ItemId": "240270", "PositionTicks": 3_000_000_000})
            assert c.post("/emby/Sessions/Playing/Stopped", content=body).status_code == 204
            assert c.post(f"/emby/Users/{USER}/PlayedItems/240271").status_code == 200
            # a Plex path means nothing here
            assert c.get("/:/scrobble", params={"key": "240272", "X-Plex-Token": TOKEN})
        stopped = _events_for(receiver, "240270", 1)[0]
        assert (stopped["kind"], stopped["state"], stopped["time_ms"]) == (
            "timeline",
            "stopped",
            300_000,
        )
        played = _events_for(receiver, "240271", 1)[0]
        assert (played["kind"], played["account_id"]) == ("scrobble", USER)
        assert not [e for e in receiver.events() if e.get("rating_key") == "240272"]
        assert "server kind set" in p.output()
        assert "server kind detected" not in p.output()  # told, not asked
    finally:
        p.stop()
        emby.stop()
