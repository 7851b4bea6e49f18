"""One HTTP exchange with Plex or plex.tv: our headers in, an error class out.

The token travels only as the X-Plex-Token header, never in the URL, so it never shows up
in an access log; every request is marked as a replay so no proxy reports it again.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from manager.event import REPLAY_HEADER
from manager.servers.http import Answer
from manager.servers.http import send as http_send

PRODUCT = "Plex Cluster"
PRODUCT_VERSION = "1.0"


def base_headers(client_id: str) -> dict[str, str]:
    return {
        REPLAY_HEADER: "1",
        "X-Plex-Client-Identifier": client_id,
        "X-Plex-Product": PRODUCT,
        "X-Plex-Version": PRODUCT_VERSION,
        "X-Plex-Device-Name": PRODUCT,
        "X-Plex-Platform": "Python",
    }


async def send(
    http: httpx.AsyncClient,
    method: str,
    base_url: str,
    path: str,
    *,
    headers: Mapping[str, str],
    token: str | None = None,
    params: Mapping[str, str] | None = None,
    timeout: float | None = None,
    target: str = "",
) -> Answer:
    """Send and return a 2xx response; anything else becomes a MediaServerError subclass."""
    all_headers = dict(headers)
    if token:
        all_headers["X-Plex-Token"] = token
    return await http_send(
        http,
        method,
        base_url.rstrip("/") + path,
        headers=all_headers,
        params=params,
        timeout=timeout,
        target=target,
        where=f"{target or base_url} {method} {path}",
    )
