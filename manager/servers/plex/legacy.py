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
from typing import Any
from urllib.parse import parse_qs, urlsplit

from manager.event import EventError, PlaybackEvent
from manager.servers.plex import requests as playback_request


def _status(value: Any) -> int:
    try:
        return int(float(str(value)))
    except ValueError:
        return 0


def from_legacy(data: Any, received_at: float | None = None) -> PlaybackEvent | None:
    """Map one original payload to an event; None for a line to ignore (a replay)."""
    if not isinstance(data, dict):
        raise EventError("legacy payload must be a JSON object")
    uri = data.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise EventError("legacy payload has no 'uri'")
    kind = playback_request.playback_kind(uri)
    if kind is None:
        raise EventError(f"legacy payload is not a playback request: {urlsplit(uri).path!r}")
    query = {k: v[-1] for k, v in parse_qs(urlsplit(uri).query, keep_blank_values=True).items()}
    # nginx logged these two headers (empty when the client sent them in the query instead).
    headers = {
        name: str(data.get(field) or "")
        for name, field in (("X-Plex-Token", "token"), ("X-Plex-Client-Identifier", "identifier"))
        if data.get(field)
    }
    if playback_request.is_replay(headers, query):
        return None
    host = str(data.get("host") or "").strip().lower()
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
        upstream_status=_status(data.get("status", "200")),
    )
