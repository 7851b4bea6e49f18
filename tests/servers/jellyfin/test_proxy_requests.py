"""Table tests of the Jellyfin/Emby request parser (manager/servers/jellyfin/requests.py):
which requests are playback requests, what event each makes, which are refused as
ambiguous or malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from manager.servers.jellyfin import requests as jf

UP = "http://jellyfin:8096"
TOKEN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
USER = "6b1f4e2a9c3d4f5e8a7b6c5d4e3f2a1b"
ITEM = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
DASHED = "A1B2C3D4-E5F6-0718-293A-4B5C6D7E8F90"
AUTH = {
    "Authorization": 'MediaBrowser Client="Jellyfin Web", Device="Fire%20fox", '
    f'DeviceId="dev-1", Version="10.10.7", Token="{TOKEN}"'
}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/Sessions/Playing", jf.Route("start", body=True)),
        ("post", "/sessions/playing/", jf.Route("start", body=True)),
        ("POST", "/Sessions/Playing/Progress", jf.Route("progress", body=True)),
        ("POST", "/emby/Sessions/Playing/Stopped?x=1", jf.Route("stopped", body=True)),
        ("POST", "/mediabrowser/Sessions/Playing", jf.Route("start", body=True)),
        ("POST", f"/UserPlayedItems/{ITEM}?userId={USER}", jf.Route("played", ITEM)),
        ("DELETE", f"/UserPlayedItems/{ITEM}", jf.Route("unplayed", ITEM)),
        ("POST", f"/Users/{USER}/PlayedItems/{ITEM}", jf.Route("played", ITEM, USER)),
        ("DELETE", f"/EMBY/users/{USER}/playeditems/42", jf.Route("unplayed", "42", USER)),
        ("POST", f"/UserItems/{ITEM}/UserData", jf.Route("userdata", ITEM, body=True)),
        ("POST", f"/Users/{USER}/Items/{ITEM}/UserData", jf.Route("userdata", ITEM, USER, True)),
        ("POST", f"/PlayingItems/{ITEM}", jf.Route("start", ITEM)),
        ("POST", f"/PlayingItems/{ITEM}/Progress", jf.Route("progress", ITEM)),
        ("DELETE", f"/Users/{USER}/PlayingItems/{ITEM}", jf.Route("stopped", ITEM, USER)),
        ("POST", "/Sessions%2FPlaying", None),  # an encoded slash stays inside the segment
        ("GET", "/Sessions/Playing", None),
        ("GET", f"/UserItems/{ITEM}/UserData", None),
        ("POST", "/Sessions/Playing/Ping", None),
        ("POST", "/Sessions/Capabilities", None),
        ("GET", f"/Users/{USER}/Items", None),
        ("POST", f"/UserFavoriteItems/{ITEM}", None),
        ("POST", "/:/scrobble", None),
        ("POST", "/", None),
    ],
)
def test_routes(method: str, path: str, expected: jf.Route | None) -> None:
    assert jf.route(method, path) == expected


def _parse(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Any:
    route = jf.route(method, path)
    assert route is not None
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return jf.parse(route, AUTH if headers is None else headers, query or [], UP, raw)


def _fields(event: Any) -> tuple[Any, ...]:
    return (event.kind, event.state, event.time_ms, event.rating_key, event.account_id)


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "expected"),
    [
        (
            "POST",
            "/Sessions/Playing",
            {"ItemId": ITEM, "PositionTicks": 0},
            None,
            ("timeline", "playing", 0, ITEM, None),
        ),
        (
            "POST",
            "/Sessions/Playing/Progress",
            {"itemId": DASHED, "positionTicks": 600_000_000, "isPaused": True},
            None,
            ("timeline", "paused", 60_000, ITEM, None),
        ),
        (
            "POST",
            "/Sessions/Playing/Progress",
            {"ItemId": ITEM, "PositionTicks": "600000000", "IsPaused": "false"},
            None,
            ("timeline", "playing", 60_000, ITEM, None),
        ),
        (
            "POST",
            "/Sessions/Playing/Stopped",
            {"ItemId": "240270", "PositionTicks": 12_345},
            None,
            ("timeline", "stopped", 1, "240270", None),
        ),
        (
            "POST",
            "/Sessions/Playing/Stopped",
            {"ItemId": ITEM},
            None,
            ("timeline", "stopped", None, ITEM, None),
        ),
        (
            "POST",
            f"/PlayingItems/{ITEM}/Progress",
            None,
            [("positionTicks", "20000"), ("isPaused", "true")],
            ("timeline", "paused", 2, ITEM, None),
        ),
        (
            "DELETE",
            f"/PlayingItems/{ITEM}",
            None,
            [("positionTicks", "30000")],
            ("timeline", "stopped", 3, ITEM, None),
        ),
        (
            "POST",
            f"/UserPlayedItems/{ITEM}",
            None,
            [("userId", USER)],
            ("scrobble", None, None, ITEM, USER),
        ),
        (
            "DELETE",
            f"/UserPlayedItems/{DASHED}",
            None,
            None,
            ("unscrobble", None, None, ITEM, None),
        ),
        (
            "POST",
            f"/Users/{USER.upper()}/PlayedItems/{ITEM}",
            None,
            [("UserId", USER)],
            ("scrobble", None, None, ITEM, USER),
        ),
        (
            "POST",
            f"/UserItems/{ITEM}/UserData",
            {"Played": True, "PlaybackPositionTicks": 0},
            None,
            ("scrobble", None, None, ITEM, None),
        ),
        (
            "POST",
            f"/UserItems/{ITEM}/UserData",
            {"Played": False, "PlaybackPositionTicks": 9_000_000_000},
            [("userId", USER)],
            ("progress", "stopped", 900_000, ITEM, USER),
        ),
        (
            "POST",
            f"/Users/{USER}/Items/{ITEM}/UserData",
            {"Played": False},
            None,
            ("unscrobble", None, None, ITEM, USER),
        ),
        (
            "POST",
            f"/UserItems/{ITEM}/UserData",
            {"PlaybackPositionTicks": 0},
            None,
            ("progress", "stopped", 0, ITEM, None),
        ),
        (
            "POST",
            f"/UserItems/{ITEM}/UserData",
            {"ItemId": DASHED, "Played": True},
            None,
            ("scrobble", None, None, ITEM, None),
        ),
    ],
)
def test_events(
    method: str, path: str, body: Any, query: list[tuple[str, str]] | None, expected: tuple
) -> None:
    event = _parse(method, path, body, query=query)
    assert _fields(event) == expected
    assert (event.token, event.client_id, event.product, event.device) == (
        TOKEN,
        "dev-1",
        "Jellyfin Web",
        "Fire fox",
    )
    assert event.upstream_url == UP


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-Emby-Token": TOKEN}, None),
        ({"x-mediabrowser-token": TOKEN}, None),
        ({"X-Emby-Authorization": f'Emby UserId="{USER}", Token="{TOKEN}"'}, None),
        ({}, [("api_key", TOKEN)]),
        ({}, [("ApiKey", TOKEN)]),
        ([("X-Emby-Token", TOKEN), ("X-Emby-Token", TOKEN)], [("api_key", TOKEN)]),
        ({**AUTH, "X-Emby-Token": TOKEN}, None),  # the same value twice is fine
    ],
)
def test_every_credential_source(headers: Any, query: Any) -> None:
    event = _parse("POST", f"/UserPlayedItems/{ITEM}", headers=headers, query=query)
    assert event.token == TOKEN


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "query"),
    [
        # two different credentials
        ("POST", f"/UserPlayedItems/{ITEM}", None, {**AUTH, "X-Emby-Token": OTHER}, None),
        ("POST", f"/UserPlayedItems/{ITEM}", None, None, [("api_key", OTHER)]),
        ("POST", f"/UserPlayedItems/{ITEM}", None, None, [("api_key", OTHER), ("ApiKey", TOKEN)]),
        # two different items, users, values of one key
        ("POST", f"/UserItems/{ITEM}/UserData", {"ItemId": "42", "Played": True}, None, None),
        ("POST", f"/Users/{USER}/PlayedItems/{ITEM}", None, None, [("userId", OTHER)]),
        ("POST", "/Sessions/Playing", {"ItemId": ITEM, "itemId": "42"}, None, None),
        ("POST", "/Sessions/Playing", b'{"ItemId": "1", "ItemId": "2"}', None, None),
        (
            "POST",
            f"/PlayingItems/{ITEM}/Progress",
            None,
            None,
            [("positionTicks", "1"), ("PositionTicks", "2")],
        ),
        # positions that are not whole non-negative ticks
        ("POST", "/Sessions/Playing", {"ItemId": ITEM, "PositionTicks": -1}, None, None),
        ("POST", "/Sessions/Playing", {"ItemId": ITEM, "PositionTicks": 1.5}, None, None),
        ("POST", "/Sessions/Playing", {"ItemId": ITEM, "PositionTicks": True}, None, None),
        ("POST", "/Sessions/Playing", {"ItemId": ITEM, "PositionTicks": 10**30}, None, None),
        ("POST", "/Sessions/Playing", b'{"ItemId": "1", "PositionTicks": Infinity}', None, None),
        ("POST", "/Sessions/Playing", b'{"ItemId": "1", "PositionTicks": NaN}', None, None),
        ("POST", "/Sessions/Playing/Progress", {"ItemId": ITEM, "IsPaused": "maybe"}, None, None),
        ("DELETE", f"/PlayingItems/{ITEM}", None, None, [("positionTicks", "-5")]),
        # bodies and ids that are not what the servers take
        ("POST", "/Sessions/Playing", b"{", None, None),
        ("POST", "/Sessions/Playing", b"[1, 2]", None, None),
        ("POST", "/Sessions/Playing", b"\xff\xfe", None, None),
        ("POST", "/Sessions/Playing", {"ItemId": 42}, None, None),
        ("POST", "/Sessions/Playing", {"ItemId": "../etc"}, None, None),
        ("POST", "/UserPlayedItems/not-an-id", None, None, None),
        # a value the manager's schema refuses
        ("POST", f"/UserPlayedItems/{ITEM}", None, {"X-Emby-Token": "a,b"}, None),
        ("POST", f"/UserPlayedItems/{ITEM}", None, {**AUTH, "X-Emby-Client": "x\x07"}, None),
    ],
)
def test_ambiguous_or_malformed_is_invalid(
    method: str, path: str, body: Any, headers: Any, query: Any
) -> None:
    with pytest.raises(jf.Invalid):
        _parse(method, path, body, headers=headers, query=query)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", f"/UserPlayedItems/{ITEM}", None, {}),  # no credential
        ("POST", f"/UserPlayedItems/{ITEM}", None, {"Authorization": f"Bearer {TOKEN}"}),
        ("POST", "/Sessions/Playing", {"PositionTicks": 5}, None),  # no item
        ("POST", "/Sessions/Playing", None, None),
        ("POST", f"/UserItems/{ITEM}/UserData", {"IsFavorite": True}, None),
        ("POST", f"/UserPlayedItems/{'0' * 32}", None, None),  # the empty GUID
    ],
)
def test_not_reportable_is_skipped(method: str, path: str, body: Any, headers: Any) -> None:
    with pytest.raises(jf.Skip) as caught:
        _parse(method, path, body, headers=headers)
    assert not isinstance(caught.value, jf.Invalid)


def test_a_body_too_large_is_not_read() -> None:
    big = b'{"ItemId": "1", "Pad": "' + b"x" * jf.MAX_BODY + b'"}'
    with pytest.raises(jf.Skip):
        _parse("POST", "/Sessions/Playing", big)


def test_the_replay_header_in_any_case() -> None:
    assert jf.is_replay({"x-plex-cluster-replay": "1"})
    assert jf.is_replay([("X-Plex-Cluster-Replay", "")])
    assert not jf.is_replay(AUTH)
