"""The HTTP client each media server gets: httpx's interface over aiohttp's connections.

A full sync makes one request per write, tens of thousands, on the manager's one event
loop, and that loop bounds a first sync. httpx's own transport (httpcore over anyio)
cost 0.64-0.84 ms of client CPU per Plex scrobble against the emulator; the same
request through `PlexServerClient` on aiohttp's connections costs 0.30-0.34 ms (3 000
requests, 8 in flight, three rounds each). httpx-aiohttp, by httpx's maintainer, is the
transport that joins them: everything above it (requests, responses, errors, the tests'
`httpx.MockTransport`) stays httpx, so no caller changes. aiohttp also drops an idle
keep-alive connection the server closed without looking at every idle socket on every
request (httpcore did, one `poll` each), and sends an idempotent request again once when
a reused connection turns out closed.
"""

from __future__ import annotations

import ssl

import httpx
from httpx_aiohttp import HttpxAiohttpClient


def server_client(timeout: float, tls: ssl.SSLContext) -> httpx.AsyncClient:
    """A client with its own pool of keep-alive connections. `tls` is handed over as it
    is (loading the roots costs ~20 ms: one context for all). A proxy from the
    environment is honoured, as by httpx's own transport."""
    return HttpxAiohttpClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        verify=tls,
    )
