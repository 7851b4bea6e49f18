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

import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from manager.event import LEGACY_REPLAY_QUERY, EventError, PlaybackEvent

_KINDS = {
    "scrobble": "scrobble",
    "unscrobble": "unscrobble",
    "timeline": "timeline",
    "progress": "progress",
}


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def from_legacy(data: Any, received_at: float | None = None) -> PlaybackEvent | None:
    """Map one original payload to an event; None for a line to ignore (a replay)."""
    if not isinstance(data, dict):
        raise EventError("legacy payload must be a JSON object")
    uri = data.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise EventError("legacy payload has no 'uri'")
    parts = urlsplit(uri)
    name = parts.path.rstrip("/").rsplit("/:/", 1)[-1] if "/:/" in parts.path else ""
    kind = _KINDS.get(name)
    if kind is None:
        raise EventError(f"legacy payload is not a playback request: {parts.path!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if query.get(LEGACY_REPLAY_QUERY) == "1":
        return None
    token = query.get("X-Plex-Token") or str(data.get("token") or "")
    if not token:
        raise EventError("legacy payload carries no Plex token")
    if kind == "timeline":
        rating_key = query.get("ratingKey") or query.get("key", "").rsplit("/", 1)[-1]
    else:
        rating_key = query.get("key", "").rsplit("/", 1)[-1] or query.get("ratingKey", "")
    if not rating_key:
        raise EventError("legacy payload names no item (key/ratingKey)")
    host = str(data.get("host") or "").strip().lower()
    if not host:
        raise EventError("legacy payload has no 'host'")
    state = query.get("state") or None
    if kind == "timeline" and state is None:
        state = "stopped"  # the original logged only stopped timelines
    status = _int(str(data.get("status", "200"))) or 0
    return PlaybackEvent.from_dict(
        {
            "v": 1,
            "id": f"legacy-{uuid.uuid4().hex}",
            "kind": kind,
            "rating_key": rating_key,
            "token": token,
            "upstream_url": f"https://{host}",
            "key": query.get("key") or None,
            "state": state if kind in ("timeline", "progress") else None,
            "time_ms": _int(query.get("time")),
            "duration_ms": _int(query.get("duration")),
            "client_id": query.get("X-Plex-Client-Identifier") or data.get("identifier") or None,
            "product": query.get("X-Plex-Product") or None,
            "device": query.get("X-Plex-Device") or None,
            "proxy_name": "legacy",
            "seen_at": received_at if received_at is not None else time.time(),
            "upstream_status": status,
        }
    )
