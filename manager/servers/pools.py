"""The HTTP client each media server gets: httpx's interface over aiohttp's connections.

A full sync makes one request per write, tens of thousands, on the manager's one event
loop. httpx's own transport (httpcore over anyio) cost 0.80 ms of client CPU per Plex
scrobble through `PlexServerClient` against the emulator; on aiohttp's connections the
same request costs 0.26 ms (`make bench BENCH=transport`, medians of three rounds).
httpx-aiohttp, by httpx's maintainer, is the transport that joins them: everything above
it (requests, responses, errors, the tests' `httpx.MockTransport`) stays httpx, so no
caller changes. aiohttp also drops an idle keep-alive connection the server closed
without polling every idle socket on every request, as httpcore did.

One thing of aiohttp's is turned off: it sends a GET again, once, when a reused
connection drops before the answer. A Plex write is a GET (`/:/scrobble`) and the first
may have landed: a second would count the play twice, a write the peer already holds.
The outbox retries such a write instead, and its writer reads the item first
(servers/recent.py), as it did on httpx's own transport.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from aiohttp import ClientSession
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient


class _Transport(AiohttpTransport):
    def get_client(self) -> ClientSession:
        session = super().get_client()
        # No public switch for it (aiohttp's own test client sets the same attribute).
        session._retry_connection = False
        return session


class _Client(HttpxAiohttpClient):
    """httpx-aiohttp's client, its transports (a proxy's too) `_Transport`; and the
    aiohttp session a URL's requests go on (`route`), for servers/http.py to send on it
    without httpx's request and response objects in between."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._routes: dict[str, ClientSession | None] = {}

    def route(self, url: str) -> ClientSession | None:
        """The session a request to `url` would go on, when it goes straight to the server
        (None: through a proxy from the environment, or on a transport given by the
        caller, such as a test's `httpx.MockTransport`: send those through httpx). Picked
        once per scheme, host and port, as httpx's mounts are matched."""
        origin = "/".join(url.split("/", 3)[:3])
        if origin not in self._routes:
            transport = self._transport_for_url(httpx.URL(origin))
            session = None
            if type(transport) is _Transport and transport.proxy is None:
                if not isinstance(transport.client, ClientSession):
                    transport.client = transport.get_client()  # as its first request would
                session = transport.client
            self._routes[origin] = session
        return self._routes[origin]

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        given = kwargs.pop("transport", None)  # the caller's own transport, if any, as is
        return given if given is not None else _Transport(*args, **kwargs)

    def _init_proxy_transport(
        self, proxy: httpx.Proxy, *args: Any, **kwargs: Any
    ) -> httpx.AsyncBaseTransport:
        return _Transport(*args, proxy=proxy, **kwargs)


def server_client(timeout: float, tls: ssl.SSLContext) -> httpx.AsyncClient:
    """A client with its own pool of keep-alive connections. `tls` is handed over as it
    is (loading the roots costs ~20 ms: one context for all). A proxy from the
    environment is honoured, as by httpx's own transport."""
    return _Client(
        timeout=timeout,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        verify=tls,
    )
