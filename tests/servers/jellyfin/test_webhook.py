"""Jellyfin plugin and Emby webhook bodies (tests/data/webhooks/*.yaml) → events: tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from manager.servers.jellyfin import emby_webhook, webhook
from manager.servers.jellyfin.dialect import CLIENT
from manager.servers.webhooks import Ignored, WebhookBody, WebhookError, WebhookSource
from tests.support.webhooks import payload

JELLY = WebhookSource("jelly", "jellyfin", "http://jelly.lan:8096", "6d1c4a4c6f8e4c2a")
EMBY = WebhookSource("emby", "emby", "http://emby.lan:8096", None)
NOW = 1_700_000_000.0
ITEM = "9f2c8b7e-5a3d-4c1b-8e6f-0a1b2c3d4e5f"  # as Handlebars prints a Guid
USER = "0123456789abcdef0123456789ABCDEF"
MIN_TICKS = 60 * 10_000_000


def jelly(name: str, **values: Any) -> dict[str, Any]:
    return payload("jellyfin", name, **{"item": ITEM, "user": USER, "ticks": "0", **values})


def emby(name: str, **values: Any) -> dict[str, Any]:
    return payload("emby", name, **{"item": "240270", "user": USER, "ticks": 0, **values})


def key(event: Any) -> tuple[Any, ...]:
    return (event.kind, event.state, event.time_ms)


JELLY_CASES: list[tuple[str, dict[str, Any], tuple[Any, ...] | str]] = [
    (
        "stop at 20:00",
        jelly("PlaybackStop", ticks=str(20 * MIN_TICKS)),
        ("timeline", "stopped", 1_200_000),
    ),
    (
        "progress, paused",
        jelly("PlaybackProgress", ticks=str(5 * MIN_TICKS)),
        ("timeline", "paused", 300_000),
    ),
    (
        "progress, playing",
        {**jelly("PlaybackProgress", ticks=str(5 * MIN_TICKS)), "IsPaused": "False"},
        ("timeline", "playing", 300_000),
    ),
    ("start", jelly("PlaybackStart"), ("timeline", "playing", 0)),
    ("marked played", jelly("UserDataSaved played"), ("scrobble", None, None)),
    ("marked unplayed", jelly("UserDataSaved unplayed"), ("unscrobble", None, None)),
    (
        "resume point saved",
        jelly("UserDataSaved progress", ticks=str(7 * MIN_TICKS)),
        ("progress", "stopped", 420_000),
    ),
    (
        "saved by playback itself",
        jelly("UserDataSaved by playback"),
        "UserDataSaved (PlaybackProgress)",
    ),
    ("another notification", jelly("ItemAdded"), "ItemAdded"),
    (
        "our own replay",
        {**jelly("PlaybackStop", ticks="10"), "ClientName": CLIENT},
        "PlaybackStop: our own replay",
    ),
    (
        "JSON booleans, keys in any case",
        {"notificationtype": "UserDataSaved", "itemid": ITEM, "USERID": USER, "played": True},
        ("scrobble", None, None),
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), JELLY_CASES, ids=[c[0] for c in JELLY_CASES])
def test_jellyfin_bodies(name: str, data: dict[str, Any], expected: tuple[Any, ...] | str) -> None:
    # text/plain or JSON: the body is read as JSON whatever the header said.
    found = webhook.parse(WebhookBody(json.dumps(data).encode()), JELLY, NOW)
    if isinstance(expected, str):
        assert found == Ignored(expected)
        return
    [event] = found
    assert key(event) == expected
    # Guids as the server answers them: 32 lower-case hex digits.
    assert event.rating_key == ITEM.replace("-", "") and event.account_id == USER.lower()
    assert event.token is None and event.upstream_url == JELLY.url
    assert event.machine_identifier == JELLY.server_id and event.proxy_name == "webhook"


EMBY_CASES: list[tuple[str, dict[str, Any], tuple[Any, ...] | str]] = [
    ("marked played", emby("item.markplayed"), ("scrobble", None, None)),
    ("marked unplayed", emby("item.markunplayed"), ("unscrobble", None, None)),
    (
        "stopped at 20:00",
        emby("playback.stop", ticks=20 * MIN_TICKS),
        ("timeline", "stopped", 1_200_000),
    ),
    ("paused", emby("playback.pause", ticks=MIN_TICKS), ("timeline", "paused", 60_000)),
    ("started", emby("playback.start"), ("timeline", "playing", 0)),
    (
        "unpaused",
        {**emby("playback.pause", ticks=9), "Event": "playback.unpause"},
        ("timeline", "playing", 0),
    ),
    ("played to completion", emby("playback.stop completed"), ("scrobble", None, None)),
    ("the settings page's test", emby("system.notificationtest"), "system.notificationtest"),
    (
        "our own replay",
        {**emby("playback.stop", ticks=5), "Session": {"Client": CLIENT}},
        "playback.stop: our own replay",
    ),
]


@pytest.mark.parametrize(
    "form", [False, True], ids=["application/json (4.9)", "multipart data (4.8)"]
)
@pytest.mark.parametrize(("name", "data", "expected"), EMBY_CASES, ids=[c[0] for c in EMBY_CASES])
def test_emby_bodies(
    name: str, data: dict[str, Any], expected: tuple[Any, ...] | str, form: bool
) -> None:
    text = json.dumps(data)
    body = WebhookBody(b"", {"data": text}) if form else WebhookBody(text.encode())
    found = emby_webhook.parse(body, EMBY, NOW)
    if isinstance(expected, str):
        assert found == Ignored(expected)
        return
    [event] = found
    assert key(event) == expected
    assert event.rating_key == "240270" and event.account_id == USER.lower()
    assert event.duration_ms == 8_160_000 and event.token is None


BAD: list[tuple[str, Any, WebhookBody, str]] = [
    (
        "jellyfin: not JSON",
        webhook,
        WebhookBody(b"NotificationType=PlaybackStop"),
        "body: not JSON",
    ),
    ("jellyfin: no type", webhook, WebhookBody(b'{"ItemId": "1"}'), "NotificationType: missing"),
    (
        "jellyfin: no item",
        webhook,
        WebhookBody(b'{"NotificationType": "PlaybackStop", "UserId": "u"}'),
        "ItemId: missing",
    ),
    (
        "jellyfin: no user",
        webhook,
        WebhookBody(b'{"NotificationType": "UserDataSaved", "ItemId": "1", "Played": "true"}'),
        "UserId: missing",
    ),
    (
        "jellyfin: ticks not a number",
        webhook,
        WebhookBody(
            b'{"NotificationType": "PlaybackStop", "ItemId": "1", "UserId": "u", '
            b'"PlaybackPositionTicks": "soon"}'
        ),
        "PlaybackPositionTicks: not a whole number",
    ),
    (
        "jellyfin: played neither true nor false",
        webhook,
        WebhookBody(
            b'{"NotificationType": "UserDataSaved", "ItemId": "1", "UserId": "u", '
            b'"Played": "maybe"}'
        ),
        "Played: not true or false",
    ),
    ("emby: no data field", emby_webhook, WebhookBody(b"", {"other": "{}"}), "no 'data' field"),
    ("emby: no event", emby_webhook, WebhookBody(b'{"Item": {"Id": "1"}}'), "Event: missing"),
    (
        "emby: no item id",
        emby_webhook,
        WebhookBody(b'{"Event": "item.markplayed", "User": {"Id": "u"}}'),
        r"Item\.Id: missing",
    ),
    (
        "emby: no user",
        emby_webhook,
        WebhookBody(b'{"Event": "item.markplayed", "Item": {"Id": "1"}}'),
        r"User\.Id: missing",
    ),
    (
        "emby: user not an object",
        emby_webhook,
        WebhookBody(b'{"Event": "item.markplayed", "Item": {"Id": "1"}, "User": "u"}'),
        "User: not an object",
    ),
    (
        "emby: a user id the wire refuses",
        emby_webhook,
        WebhookBody(b'{"Event": "item.markplayed", "Item": {"Id": "1"}, "User": {"Id": "a b"}}'),
        "account_id",
    ),
]


@pytest.mark.parametrize(("name", "module", "body", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_bodies_say_what_is_wrong(
    name: str, module: Any, body: WebhookBody, message: str
) -> None:
    with pytest.raises(WebhookError, match=message):
        module.parse(body, EMBY if module is emby_webhook else JELLY, NOW)


def test_the_shipped_template_renders_to_what_the_parser_reads() -> None:
    """config/jellyfin-webhook-template.json with the plugin's variables filled in (a tiny
    stand-in for Handlebars: {{Name}} and {{#if Name}}a{{else}}b{{/if}})."""
    import re
    from pathlib import Path

    template = (
        Path(__file__).resolve().parents[3] / "config" / "jellyfin-webhook-template.json"
    ).read_text()
    values = {
        "NotificationType": "PlaybackStop",
        "ItemId": ITEM,
        "UserId": USER,
        "PlaybackPositionTicks": str(20 * MIN_TICKS),
        "IsPaused": False,
        "Played": False,
        "ClientName": "Jellyfin Web",
    }
    text = re.sub(
        r"\{\{#if (\w+)\}\}(.*?)\{\{else\}\}(.*?)\{\{/if\}\}",
        lambda m: m.group(2) if values.get(m.group(1)) else m.group(3),
        template,
    )
    text = re.sub(r"\{\{(\w+)\}\}", lambda m: str(values.get(m.group(1), "")), text)
    [event] = webhook.parse(WebhookBody(text.encode()), JELLY, NOW)
    assert key(event) == ("timeline", "stopped", 1_200_000)
