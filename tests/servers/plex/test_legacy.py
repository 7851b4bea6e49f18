"""The original nginx proxy's JSON line maps onto a version-1 event."""

from __future__ import annotations

import pytest

from manager.event import EventError
from manager.servers.plex.legacy import from_legacy

BASE = {
    "remote_addr": "203.0.113.9",
    "proxy_add_x_forwarded_for": "203.0.113.9",
    "host": "plex-home.mydomain.com:32401",
    "method": "GET",
    "token": "",
    "identifier": "client-1",
    "status": "200",
}


def test_timeline_with_token_in_query() -> None:
    line = dict(
        BASE,
        uri="/:/timeline?ratingKey=42&key=%2Flibrary%2Fmetadata%2F42&state=stopped&time=1200000"
        "&duration=5400000&X-Plex-Token=secret-token",
    )
    event = from_legacy(line, received_at=1_763_712_000.0)
    assert event is not None
    assert (event.kind, event.rating_key, event.state) == ("timeline", "42", "stopped")
    assert (event.time_ms, event.duration_ms, event.token) == (1200000, 5400000, "secret-token")
    assert event.upstream_url == "https://plex-home.mydomain.com:32401"
    assert event.client_id == "client-1" and event.seen_at == 1_763_712_000.0


def test_scrobble_with_token_header_and_replays_ignored() -> None:
    event = from_legacy(
        dict(BASE, token="hdr", uri="/:/scrobble?key=7&identifier=com.plexapp.plugins.library")
    )
    assert event is not None and (event.kind, event.rating_key, event.token) == (
        "scrobble",
        "7",
        "hdr",
    )
    assert event.id.startswith("legacy-")
    assert from_legacy(dict(BASE, token="hdr", uri="/:/unscrobble?key=7&plex-cluster=1")) is None
    failed = from_legacy(dict(BASE, token="hdr", status="404", uri="/:/unscrobble?key=7"))
    assert failed is not None and failed.upstream_status == 404


@pytest.mark.parametrize(
    "line",
    [
        dict(BASE, uri="/library/sections"),
        dict(BASE, uri="/:/scrobble?key=7"),  # no token anywhere
        dict(BASE, token="t", uri="/:/scrobble?identifier=x"),  # no key
        dict(BASE, token="t", host="", uri="/:/scrobble?key=1"),
        ["not", "an", "object"],
    ],
)
def test_bad_lines_raise(line: object) -> None:
    with pytest.raises(EventError):
        from_legacy(line)
