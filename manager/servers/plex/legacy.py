"""The original product's proxy payload, so servers can move over one at a time.

The original nginx proxy wrote one JSON access-log line per playback request and a shell
loop POSTed each line, as is, to `<manager>/?token=<CLUSTER_MANAGER_TOKEN>`:

    {"remote_addr": "...", "proxy_add_x_forwarded_for": "...", "host": "<Host header>",
     "method": "GET", "uri": "/:/timeline?ratingKey=…&state=stopped&time=…",
     "token": "<X-Plex-Token header or empty>", "identifier": "<client id header or empty>",
     "status": "200"}

Only scrobble, unscrobble and stopped timelines were logged; requests carrying the
original's replay flag (`plex-cluster=1`) were not. The line has no event id and no time,
so each one gets a fresh id and the time it arrived. `host` is what the client typed
(the proxy's public name), matched against a server's URL or its `aliases`.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from manager.event import EventError, PlaybackEvent
from manager.servers.plex import requests as playback_request

_Text = Annotated[str, Field(max_length=2048)]


class _Line(BaseModel):
    """The fields of the original line the manager reads; all strings in the original
    (`status` may also be a JSON number). Strict: `"token": {"a": 1}` is refused, not
    turned into the text of a dict."""

    model_config = ConfigDict(strict=True, extra="ignore")

    uri: Annotated[str, Field(min_length=1, max_length=16384, pattern=r"^/")]
    host: _Text | None = None
    token: _Text | None = None
    identifier: _Text | None = None
    status: (
        Annotated[str, Field(pattern=r"^[1-5][0-9][0-9]$")]
        | Annotated[int, Field(ge=100, le=599)]
        | None
    ) = None


def _checked(data: Any) -> _Line:
    if not isinstance(data, dict):
        raise EventError("legacy payload must be a JSON object")
    try:
        return _Line.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = str(err["loc"][0]) if err["loc"] else "line"
        raise EventError(f"legacy payload: field {where!r} is invalid ({err['msg']})") from None


def from_legacy(data: Any, received_at: float | None = None) -> PlaybackEvent | None:
    """Map one original payload to an event; None for a line to ignore (a replay).

    Raises EventError, and nothing else, for a line that cannot be used."""
    line = _checked(data)
    try:
        parts = urlsplit(line.uri)
    except ValueError:  # e.g. "//[x": an unbalanced IPv6 bracket
        raise EventError("legacy payload: 'uri' is not a URI") from None
    kind = playback_request.playback_kind(line.uri)
    if kind is None:
        raise EventError(f"legacy payload is not a playback request: {parts.path[:80]!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    # nginx logged these two headers (empty when the client sent them in the query instead).
    headers = {
        name: value
        for name, value in (
            ("X-Plex-Token", line.token),
            ("X-Plex-Client-Identifier", line.identifier),
        )
        if value
    }
    if playback_request.is_replay(headers, query):
        return None
    host = (line.host or "").strip().lower()
    if not host:
        raise EventError("legacy payload has no 'host'")
    try:
        event = playback_request.parse(kind, headers, query, f"https://{host}")
    except playback_request.Skip as why:
        raise EventError(f"legacy payload not usable: {why}") from None
    return dataclasses.replace(
        event,
        id=f"legacy-{uuid.uuid4().hex}",
        # The original logged only stopped timelines, and not always with the state.
        state=event.state or ("stopped" if kind == "timeline" else None),
        proxy_name="legacy",
        seen_at=received_at if received_at is not None else time.time(),
        upstream_status=int(line.status or 200),
    ).validated()
