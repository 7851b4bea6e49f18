"""Tell Plex who the client is, as the original nginx proxy did.

Plex uses X-Forwarded-For only when the connecting peer is a private address and the
forwarded address is public (see docs/proxy.md), so a client-supplied header must not be
trusted when this proxy faces the internet: by default it is replaced, not appended to.
"""

from __future__ import annotations

from mitmproxy import http


def client_address(flow: http.HTTPFlow) -> str | None:
    peer = flow.client_conn.peername
    if not peer:
        return None
    host = str(peer[0])
    # An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    return host[7:] if host.startswith("::ffff:") and "." in host else host


def add_forwarded_headers(flow: http.HTTPFlow, mode: str) -> None:
    if mode == "off":
        return
    addr = client_address(flow)
    if addr is None:
        return
    headers = flow.request.headers
    previous = headers.get_all("X-Forwarded-For") if mode == "append" else []
    headers["X-Forwarded-For"] = ", ".join([*previous, addr])
    headers["X-Real-IP"] = addr
    headers["X-Forwarded-Proto"] = "https" if flow.client_conn.tls_established else "http"
