"""Plex webhook payloads (tests/data/webhooks/plex.yaml) → events: a table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from manager.event import PlaybackEvent
from manager.servers.plex.webhook import parse
from manager.servers.webhooks import Ignored, WebhookBody, WebhookError, WebhookSource
from tests.support.webhooks import payload

SOURCE = WebhookSource("living", "plex", "http://plex.lan:32400", "machine-abc")
NOW = 1_700_000_000.0


def run(data: Any, *, form: bool = True, source: WebhookSource = SOURCE) -> Any:
    text = data if isinstance(data, str) else json.dumps(data)
    body = WebhookBody(b"", {"payload": text}) if form else WebhookBody(text.encode())
    return parse(body, source, NOW)


def sample(name: str, **values: Any) -> dict[str, Any]:
    return payload(
        "plex", name, **{"item": "5150", "account": 1, "server": "machine-abc", **values}
    )


# name, payload, expected (kind, state, time_ms, account_id) or the reason ignored
CASES: list[tuple[str, dict[str, Any], tuple[Any, ...] | str]] = [
    ("scrobble by the owner", sample("media.scrobble"), ("scrobble", None, None, "1")),
    (
        "stop at 20:00 by a shared user",
        sample("media.stop", account=2002),
        ("timeline", "stopped", 1_200_000, "2002"),
    ),
    ("pause", sample("media.pause"), ("timeline", "paused", 600_000, "1")),
    ("play without a position", sample("media.play"), ("timeline", "playing", None, "1")),
    (
        "resume",
        {**sample("media.pause"), "event": "media.resume"},
        ("timeline", "playing", 600_000, "1"),
    ),
    ("library.new", sample("library.new"), "library.new"),
    ("admin.database.backup", sample("admin.database.backup"), "admin.database.backup"),
    ("media.rate", {**sample("media.pause"), "event": "media.rate"}, "media.rate"),
]


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_payloads(name: str, data: dict[str, Any], expected: tuple[Any, ...] | str) -> None:
    found = run(data)
    if isinstance(expected, str):
        assert found == Ignored(expected)
        return
    [event] = found
    assert isinstance(event, PlaybackEvent)
    assert (event.kind, event.state, event.time_ms, event.account_id) == expected
    assert event.rating_key == "5150" and event.token is None
    assert event.upstream_url == SOURCE.url and event.machine_identifier == "machine-abc"
    assert event.proxy_name == "webhook" and event.seen_at == NOW


def test_the_json_alone_is_read_too() -> None:
    [event] = run(sample("media.scrobble"), form=False)
    assert event.kind == "scrobble"


def test_playback_on_another_server_of_the_same_account_is_ignored() -> None:
    # Webhooks travel with the account: the owner's URL hears their plays elsewhere too.
    found = run(sample("media.scrobble", server="someone-elses-server"))
    assert isinstance(found, Ignored) and "another server" in found.reason
    # While the server's own id is not known yet, the key's word is taken.
    unknown = WebhookSource("living", "plex", "http://plex.lan:32400", None)
    [event] = run(sample("media.scrobble", server="whatever"), source=unknown)
    assert event.machine_identifier is None


BAD: list[tuple[str, Any, str]] = [
    ("no payload part", None, "no 'payload' part"),
    ("not JSON", "{nope", "payload: not JSON"),
    ("a list", "[]", "not a JSON object"),
    ("no event", {"Account": {"id": 1}}, "event: missing"),
    ("no account", {**sample("media.stop"), "Account": {}}, "Account.id: missing"),
    (
        "no rating key",
        {**sample("media.stop"), "Metadata": {"type": "movie"}},
        "Metadata.ratingKey",
    ),
    (
        "Metadata not an object",
        {**sample("media.stop"), "Metadata": [1]},
        "Metadata: not an object",
    ),
    (
        "negative offset",
        {**sample("media.stop"), "Metadata": {"ratingKey": "1", "viewOffset": -5}},
        "viewOffset: not a whole number",
    ),
    (
        "offset too large",
        {**sample("media.stop"), "Metadata": {"ratingKey": "1", "viewOffset": 2**40}},
        "time_ms",
    ),
    (
        "a rating key that is a path",
        {**sample("media.stop"), "Metadata": {"ratingKey": "../x"}},
        "rating_key",
    ),
    ("account id that is a list", {**sample("media.stop"), "Account": {"id": [1]}}, "Account.id"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_payloads_say_what_is_wrong(name: str, data: Any, message: str) -> None:
    body = (
        WebhookBody(b"", {"thumb-only": "x"})
        if data is None
        else WebhookBody(b"", {"payload": data if isinstance(data, str) else json.dumps(data)})
    )
    with pytest.raises(WebhookError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse(body, SOURCE, NOW)
