"""The request parser under hostile input: report exactly what Plex acts on, or nothing.

Where a request is ambiguous (a parameter or the token given twice with different values,
in different case or in header and query) or a number is not a plain finite position,
`parse` raises `Invalid` (a `Skip`): no event, never another exception.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from mitmproxy import http

from manager.event import EventError
from manager.servers.plex import requests as playback
from manager.servers.plex.legacy import from_legacy

UP = "http://127.0.0.1:32400"
LIB = "com.plexapp.plugins.library"
TIMELINE = "ratingKey=101&key=%2Flibrary%2Fmetadata%2F101&state=stopped&duration=5400000"


def request(url: str, headers: list[tuple[str, str]] | None = None) -> http.Request:
    """A real mitmproxy request, so repeated names and header values stay as sent."""
    req = http.Request.make("GET", f"{UP}{url}")
    req.headers = http.Headers([(k.encode(), v.encode()) for k, v in (headers or [])])
    return req


def parse(kind: str, url: str, headers: list[tuple[str, str]] | None = None) -> object:
    req = request(url, headers if headers is not None else [("X-Plex-Token", "tokA")])
    return playback.parse(kind, req.headers, req.query, UP)


@pytest.mark.parametrize(
    ("kind", "url", "field"),
    [
        ("unscrobble", f"/:/unscrobble?key=1000&identifier={LIB}&KEY=1e3", "key"),
        ("timeline", f"/:/timeline?{TIMELINE}&time=60000&Time=playing", "time"),
        ("timeline", f"/:/timeline?{TIMELINE}&state=playing&State=", "state"),
        ("timeline", f"/:/timeline?{TIMELINE}&duration=1", "duration"),
        ("timeline", "/:/timeline?ratingKey=5&key=%2Flibrary%2Fmetadata%2F6", "ratingKey"),
        ("scrobble", f"/:/scrobble?key=1&identifier={LIB}&X-Plex-Token=tokB", "token"),
        ("scrobble", f"/:/scrobble?key=1&identifier={LIB}&identifier=x", "identifier"),
    ],
)
def test_a_parameter_given_twice_differently_is_ambiguous(kind: str, url: str, field: str) -> None:
    with pytest.raises(playback.Invalid, match=f"(?i)ambiguous.*{field}"):
        parse(kind, url)


def test_two_token_headers_are_ambiguous() -> None:
    headers = [("X-Plex-Token", "tokA"), ("X-Plex-Token", "tokB")]
    with pytest.raises(playback.Invalid, match=r"(?i)ambiguous.*token"):
        parse("scrobble", f"/:/scrobble?key=1&identifier={LIB}", headers)
    # one header holding two: not a token Plex would accept either
    with pytest.raises(playback.Invalid, match=r"(?i)token"):
        parse("scrobble", f"/:/scrobble?key=1&identifier={LIB}", [("X-Plex-Token", "a, b")])


def test_the_same_value_twice_is_not_ambiguous() -> None:
    url = f"/:/scrobble?key=7&KEY=7&identifier={LIB}&X-Plex-Token=tokA"
    event = parse("scrobble", url, [("X-Plex-Token", "tokA"), ("x-plex-token", "tokA")])
    assert (event.rating_key, event.token) == ("7", "tokA")  # type: ignore[attr-defined]


def test_form_and_query_disagreeing_is_ambiguous() -> None:
    req = request(f"/:/timeline?{TIMELINE}&time=1000", [("X-Plex-Token", "tokA")])
    with pytest.raises(playback.Invalid, match=r"ambiguous.*time"):
        playback.parse("timeline", req.headers, req.query, UP, {"time": "2000"})


@pytest.mark.parametrize(
    "time", ["inf", "1e999", "-inf", "nan", "NaN", "-5", "1e3", "99999999999", "0x10", "1_000"]
)
def test_a_time_that_is_not_a_plain_finite_position_is_invalid(time: str) -> None:
    with pytest.raises(playback.Invalid, match="time"):
        parse("timeline", f"/:/timeline?{TIMELINE}&time={time}")
    with pytest.raises(playback.Invalid, match="time"):
        parse("progress", f"/:/progress?key=101&state=stopped&time={time}")


def test_plain_positions_still_count() -> None:
    event = parse("timeline", f"/:/timeline?{TIMELINE}&time=61000.0")
    assert (event.time_ms, event.duration_ms) == (61000, 5400000)  # type: ignore[attr-defined]
    event = parse("timeline", f"/:/timeline?{TIMELINE}&time=")
    assert event.time_ms is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "query",
    [
        f"key=1000&identifier={LIB}&KEY=1e3",
        "ratingKey=42&key=%2Flibrary%2Fmetadata%2F42&state=stopped&time=inf",
        "ratingKey=42&key=%2Flibrary%2Fmetadata%2F42&state=stopped&time=1&Time=2",
    ],
)
def test_the_legacy_door_refuses_the_same_requests(query: str) -> None:
    kind = "unscrobble" if query.startswith("key") else "timeline"
    line = {"host": "plex.example", "token": "tokA", "uri": f"/:/{kind}?{query}"}
    with pytest.raises(EventError):
        from_legacy(line)
    assert parse_qsl(query)  # the query itself is well formed


def test_replay_marks_in_any_case_and_any_of_repeated_values() -> None:
    req = request("/:/scrobble?key=1&plex-cluster=1&Plex-Cluster=0")
    assert playback.is_replay(req.headers, req.query)
