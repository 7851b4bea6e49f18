"""FlowScrub on flows built in memory: every place a client credential can sit."""

from __future__ import annotations

from mitmproxy.test import tflow, tutils

from addons.capture import META
from addons.flow_scrub import FlowScrub
from manager.event import PlaybackEvent

TOKEN = "Zx9Qw8Er7Ty6Ui5Op4As"


def _flow(path: str, headers: dict[str, str], body: bytes = b"") -> tflow.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request = tutils.treq(path=path.encode(), content=body)
    for name, value in headers.items():
        f.request.headers[name] = value
    return f


def test_request_credentials_and_captured_event_are_scrubbed() -> None:
    f = _flow(
        f"/:/timeline?ratingKey=1&X-Plex-Token={TOKEN}&api_key={TOKEN}",
        {
            "X-Plex-Token": TOKEN,
            "X-Emby-Authorization": f'MediaBrowser Client="c", Token="{TOKEN}"',
            "Authorization": f"Bearer {TOKEN}",
            "content-type": "application/x-www-form-urlencoded",
        },
        f"X-Plex-Token={TOKEN}&time=1".encode(),
    )
    f.metadata[META] = PlaybackEvent(
        kind="scrobble", rating_key="1", token=TOKEN, upstream_url="http://plex:32400"
    )
    scrub = FlowScrub()
    scrub.responseheaders(f)
    scrub.response(f)  # twice: nothing more is lost
    state = repr(f.get_state())
    assert TOKEN not in state
    assert f.request.query["ratingKey"] == "1" and f.request.query["X-Plex-Token"] == "Zx9Q…"
    assert f.request.headers["X-Emby-Authorization"] == 'MediaBrowser Client="c", Token="Zx9Q…"'
    assert f.request.headers["Authorization"] == "Bearer Zx9Q…"
    assert f.metadata[META] == "captured"


def test_response_bodies_that_echo_a_token() -> None:
    scrub = FlowScrub()
    f = _flow("/Users/AuthenticateByName", {})
    f.response.headers["content-type"] = "application/json"
    f.response.text = f'{{"User": {{"Name": "alice"}}, "AccessToken": "{TOKEN}"}}'
    scrub.response(f)
    assert TOKEN not in f.response.text and '"AccessToken": "Zx9Q…"' in f.response.text
    g = _flow("/api/v2/resources", {})
    g.response.headers["content-type"] = "text/xml;charset=utf-8"
    g.response.text = f'<Device name="x" accessToken="{TOKEN}"/>'
    scrub.response(g)
    assert TOKEN not in g.response.text


def test_an_error_flow_is_scrubbed_too() -> None:
    f = tflow.tflow(err=True)
    f.request.headers["X-Emby-Token"] = TOKEN
    FlowScrub().error(f)
    assert TOKEN not in repr(f.get_state())
