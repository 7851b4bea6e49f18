"""Tell Plex who the client is, as the original nginx proxy did.

Plex uses X-Forwarded-For only when the connecting peer is a private address and the
forwarded address is public (see docs/proxy.md), so a client-supplied header must not be
trusted when this proxy faces the internet: by default it is replaced, not appended to.

Runs for every request, so it edits the raw header fields in one pass and one assignment
(three Headers[...] = ... assignments cost several times more).
"""

from __future__ import annotations

from mitmproxy import http

_XFF = b"x-forwarded-for"
_OURS = frozenset({_XFF, b"x-real-ip", b"x-forwarded-proto"})
_OUR_LENGTHS = frozenset(len(name) for name in _OURS)


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
    kept: list[tuple[bytes, bytes]] = []
    previous: list[bytes] = []
    for name, value in headers.fields:
        if len(name) in _OUR_LENGTHS:
            lowered = name.lower()
            if lowered in _OURS:
                if lowered == _XFF and mode == "append":
                    previous.append(value)
                continue
        kept.append((name, value))
    peer = addr.encode()
    proto = b"https" if flow.client_conn.tls_established else b"http"
    kept.append((b"X-Forwarded-For", b", ".join([*previous, peer])))
    kept.append((b"X-Real-IP", peer))
    kept.append((b"X-Forwarded-Proto", proto))
    headers.fields = tuple(kept)
