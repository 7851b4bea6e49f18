"""Which bodies mitmproxy may buffer and which must flow straight through.

mitmproxy buffers whole bodies unless told otherwise per message. Streaming tiny API
answers costs throughput, so only bodies known to be small are buffered: a Content-Length
at or under the threshold. Anything chunked (live transcodes), any event stream and any
large body (media, Range slices of it) is streamed from the first byte.

Runs for every request and response: one pass over the raw header fields, no per-lookup
decoding (mitmproxy's Headers.get re-encodes and lower-cases on every call).
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx, http

from addons import config
from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")


def _framing(fields: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes | None, bool, bool]:
    """(Content-Length value, chunked/other transfer coding, is an event stream)."""
    length: bytes | None = None
    coded = False
    event_stream = False
    for name, value in fields:
        size = len(name)
        # Compare lengths first: most header names cannot match, so skip lower().
        if size == 14 and name.lower() == b"content-length":
            length = value
        elif size == 17 and name.lower() == b"transfer-encoding":
            coded = True
        elif size == 12 and name.lower() == b"content-type":
            event_stream = value.lstrip().lower().startswith(b"text/event-stream")
    return length, coded, event_stream


def _small(length: bytes | None, coded: bool, threshold: int) -> bool:
    if coded or length is None:
        return False
    try:
        return int(length) <= threshold
    except ValueError:
        return False


def should_stream_response(response: http.Response, threshold: int) -> bool:
    if response.status_code in (204, 304):
        return False
    length, coded, event_stream = _framing(response.headers.fields)
    return event_stream or not _small(length, coded, threshold)


def should_stream_request(request: http.Request, threshold: int) -> bool:
    length, coded, _ = _framing(request.headers.fields)
    if not coded and length is None:
        return False  # no body at all (GET, HEAD, most Plex API calls)
    return not _small(length, coded, threshold)


class Streaming:
    """Sets each message's `stream` flag from its headers (`cluster_stream_threshold`)."""

    OPTIONS = ("cluster_stream_threshold",)

    def __init__(self) -> None:
        self.threshold = 512 * 1024

    def load(self, loader: Any) -> None:
        config.register(loader, self.OPTIONS)

    def configure(self, updated: set[str]) -> None:
        if "cluster_stream_threshold" in updated:
            self.threshold = max(0, ctx.options.cluster_stream_threshold)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        try:
            if should_stream_request(flow.request, self.threshold):
                flow.request.stream = True
        except Exception:
            log.exception("requestheaders failed; request passes through untouched")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            assert flow.response is not None
            if should_stream_response(flow.response, self.threshold):
                flow.response.stream = True
        except Exception:
            log.exception("responseheaders failed; response passes through untouched")
