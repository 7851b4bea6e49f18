"""One HTTP exchange with Plex or plex.tv: our headers in, an error class out.

The token travels only as the X-Plex-Token header, never in the URL, so it never shows up
in an access log; every request is marked as a replay so no proxy reports it again.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from manager.event import REPLAY_HEADER
from manager.redaction import redact_text
from manager.servers.errors import RateLimited, Unreachable, error_for_status

PRODUCT = "Plex Cluster"
PRODUCT_VERSION = "1.0"
_BODY_IN_ERROR = 200


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
) -> httpx.Response:
    """Send and return a 2xx response; anything else becomes a MediaServerError subclass."""
    all_headers = dict(headers)
    if token:
        all_headers["X-Plex-Token"] = token
    url = base_url.rstrip("/") + path
    where = f"{target or base_url} {method} {path}"
    try:
        response = await http.request(
            method,
            url,
            params=params,
            headers=all_headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TimeoutException as exc:
        raise Unreachable(f"{where}: timed out ({type(exc).__name__})", target=target) from None
    except httpx.TransportError as exc:
        raise Unreachable(f"{where}: {type(exc).__name__}: {exc}", target=target) from None
    if response.status_code >= 300:
        body = redact_text(response.text[:_BODY_IN_ERROR].replace("\n", " ").strip())
        message = f"{where}: HTTP {response.status_code}" + (f" {body}" if body else "")
        error = error_for_status(response.status_code, message, target=target)
        if isinstance(error, RateLimited):
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error
    return response


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is rare on plex.tv: ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
