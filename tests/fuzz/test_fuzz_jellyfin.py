"""The Jellyfin/Emby request parser and the addon's hook on hostile input: they report an
event only when the request is unambiguous and valid, and never raise anything but
Skip/Invalid (the parser) or anything at all (the hook)."""

from __future__ import annotations

import hypothesis
from hypothesis import given
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow

from addons.capture import META, Capture
from addons.spooling import EventSpool
from manager.event import PlaybackEvent
from manager.servers.jellyfin import requests as jf
from manager.servers.jellyfin.request_auth import authorization_params
from tests.fuzz.strategies import fuzz_settings
from tests.fuzz.strategies_jellyfin import bodies, headers, paths, queries

UP = "http://127.0.0.1:8096"


def _request(
    method: str, path: str, hdrs: list[tuple[str, str]], body: bytes | None
) -> http.Request:
    req = http.Request.make(method, f"{UP}/")
    req.path = path
    req.headers = http.Headers(
        [(k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in hdrs]
    )
    if body is not None:
        req.headers["Content-Type"] = "application/json"
        req.content = body
    return req


def _given_tokens(req: http.Request) -> set[str]:
    found = set()
    for name, value in req.headers.items(multi=True):
        low = name.lower()
        if low in ("authorization", "x-emby-authorization"):
            found |= {v for k, v in authorization_params(value) if k == "token"}
        elif low in ("x-emby-token", "x-mediabrowser-token"):
            found.add(value.strip())
    found |= {v for k, v in req.query.items(multi=True) if k.lower() in ("api_key", "apikey")}
    return found - {""}


@fuzz_settings(400)
@given(
    method=st.sampled_from(["POST", "DELETE", "GET", "post"]),
    path=paths(),
    hdrs=headers(),
    query=queries(),
    body=bodies(),
)
def test_the_parser_reports_only_unambiguous_valid_requests(
    method: str,
    path: str,
    hdrs: list[tuple[str, str]],
    query: list[tuple[str, str]],
    body: bytes | None,
) -> None:
    req = _request(method, path, hdrs, body)
    for k, v in query:
        req.query.add(k, v)
    route = jf.route(req.method, req.path)
    event = None
    if route is not None:
        try:
            event = jf.parse(route, req.headers, req.query, UP, body)
        except jf.Invalid:
            hypothesis.event("invalid")
        except jf.Skip:
            hypothesis.event("skipped")

    # The addon's hook on the same request: never raises, agrees with the parser.
    flow = tflow.tflow(req=req.copy())
    Capture(EventSpool()).request(flow)
    noted = flow.metadata.get(META)
    if route is None:
        assert noted is None
        return
    if jf.is_replay(req.headers):
        assert noted == "replay"
        return
    assert (noted is None) == (event is None)
    if event is None:
        return
    hypothesis.event("reported")
    assert isinstance(noted, PlaybackEvent)
    assert event.validated() == event
    assert _given_tokens(req) == {event.token}
    if event.time_ms is not None:
        assert event.time_ms >= 0
