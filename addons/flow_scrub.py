"""Take the clients' credentials out of the flows mitmweb keeps, once they went upstream.

mitmweb keeps every flow in memory and shows it (headers, query, bodies) to whoever opens
its page or reads its API. A Plex token or a Jellyfin/Emby access token there is a
password to that user's account, so each flow is scrubbed:

- in `responseheaders` (the request has reached the server; our capture addon, earlier in
  the chain, has already taken the event it needed) and in `error` (no answer came): the
  token headers (`X-Plex-Token`, `X-Emby-Token`, `X-MediaBrowser-Token`), the `Token="…"`
  of `Authorization` / `X-Emby-Authorization` (and a `Bearer` value), the token query
  parameters (`X-Plex-Token`, `api_key`, `ApiKey`, …), a text request body, and the event
  our capture addon left in the flow's metadata;
- in `response`: a text response body that echoes a token (Plex's `accessToken="…"`,
  Jellyfin's `"AccessToken": "…"`), up to `MAX_BODY` bytes.

Values become the redaction of manager/redaction.py (first four characters and "…"), so
flows stay tellable apart. A browser with mitmweb open while a request is in flight may
see it live for those milliseconds; what mitmweb stores and serves afterwards holds none.
"""

from __future__ import annotations

from mitmproxy import http

from addons.capture import META
from manager.event import PlaybackEvent
from manager.redaction import redact, redact_text

# Query parameters and headers that are a credential as a whole (compared lower-case).
TOKEN_NAMES = frozenset(
    {
        "x-plex-token",
        "x-emby-token",
        "x-mediabrowser-token",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "accesstoken",
    }
)
# Headers that carry a credential among other fields (MediaBrowser Client="…", Token="…").
AUTH_HEADERS = ("authorization", "x-emby-authorization", "proxy-authorization")
TEXT_TYPES = ("json", "xml", "text/", "x-www-form-urlencoded", "javascript")
MAX_BODY = 2 * 1024 * 1024  # a larger body is no API answer worth scanning


def _scrub_auth(value: str) -> str:
    """`Bearer x` / `Basic x`: the credential is all of x; other schemes (MediaBrowser)
    name their token among other fields. Scrubbing twice changes nothing more."""
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    if scheme.lower() in ("bearer", "basic") and rest and not rest.endswith("…"):
        return f"{scheme} {redact(rest)}"
    return redact_text(value)


def _is_text(message: http.Message) -> bool:
    kind = message.headers.get("content-type", "").lower()
    return any(t in kind for t in TEXT_TYPES)


def _scrub_body(message: http.Message) -> None:
    raw = message.raw_content
    if not raw or len(raw) > MAX_BODY or not _is_text(message):
        return
    try:
        text = message.get_text(strict=True)
    except ValueError:  # an encoding we cannot read: leave it
        return
    if text is None:
        return
    scrubbed = redact_text(text)
    if scrubbed != text:
        message.text = scrubbed


def scrub_request(flow: http.HTTPFlow) -> None:
    req = flow.request
    for name in list(req.headers.keys()):
        lower = name.lower()
        values = req.headers.get_all(name)
        if lower in TOKEN_NAMES or lower.endswith("-token"):
            req.headers.set_all(name, [v if v.endswith("…") else redact(v) for v in values])
        elif lower in AUTH_HEADERS:
            req.headers.set_all(name, [_scrub_auth(v) for v in values])
    query = req.query
    for key in list(query.keys()):
        if key.lower() in TOKEN_NAMES:
            query.set_all(key, [v if v.endswith("…") else redact(v) for v in query.get_all(key)])
    if not req.stream:
        _scrub_body(req)
    pending = flow.metadata.get(META)
    if isinstance(pending, PlaybackEvent):
        flow.metadata[META] = "captured"  # the event (with its token) is the spool's now


class FlowScrub:
    """Last in the chain (after capture): see the module's description."""

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        scrub_request(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        scrub_request(flow)  # again: a request body streamed or changed since
        if flow.response is not None and not flow.response.stream:
            _scrub_body(flow.response)
            for name in ("x-plex-token", "x-emby-token"):
                if name in flow.response.headers:
                    flow.response.headers[name] = redact(flow.response.headers[name])

    def error(self, flow: http.HTTPFlow) -> None:
        scrub_request(flow)
