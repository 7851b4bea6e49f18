"""Reading a Jellyfin or Emby client's playback request in the proxy (capture.py calls it).

`candidate` runs for every request and looks at raw bytes only: the method (playback
requests are POST or DELETE, most traffic is GET) and the first bytes of the path. The
body is read only when it is a small JSON body already held in memory (a playback
report); anything streamed passes untouched and is not reported.
"""

from __future__ import annotations

from mitmproxy import http

from manager.event import PlaybackEvent
from manager.servers.jellyfin import requests as jf

_METHODS = frozenset({b"POST", b"DELETE", b"post", b"delete"})
_PREFIXES = tuple(p.encode() for p in jf.PATH_PREFIXES)
_FIRST = frozenset(p[1:2] for p in _PREFIXES) | frozenset(p[1:2].upper() for p in _PREFIXES)
_LONGEST = max(len(p) for p in _PREFIXES)
REPLAY = "replay"


def candidate(request: http.Request) -> bool:
    """Could this be a Jellyfin/Emby playback request? False for almost every request,
    decided on the raw method and the first bytes of the path."""
    data = request.data
    if data.method not in _METHODS:
        return False
    path = data.path
    return path[1:2] in _FIRST and path[:_LONGEST].lower().startswith(_PREFIXES)


def _json_body(request: http.Request) -> bytes | None:
    """The body when it is small JSON we may read; Skip otherwise (the servers refuse a
    report that is not JSON, so nothing is lost)."""
    if request.stream or not request.raw_content:
        return None
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise jf.Skip(f"body is not JSON ({ctype[:40] or 'no content type'})")
    if len(request.raw_content) > jf.MAX_BODY:
        raise jf.Skip("body too large to read")
    try:
        content = request.get_content(strict=True)  # a Content-Encoding decoded
    except ValueError:
        raise jf.Invalid("body unreadable: its Content-Encoding does not decode") from None
    return content


def note(flow: http.HTTPFlow, route: jf.Route) -> PlaybackEvent | str:
    """The event the request would make, or REPLAY; raises jf.Skip / jf.Invalid."""
    req = flow.request
    if jf.is_replay(req.headers):
        return REPLAY
    upstream = f"{req.scheme}://{req.host}:{req.port}"
    body = _json_body(req) if route.body else None
    return jf.parse(route, req.headers, req.query, upstream, body)
