"""Which bodies mitmproxy may buffer and which must flow straight through.

mitmproxy buffers whole bodies unless told otherwise per message. Streaming tiny API
answers costs throughput, so only bodies known to be small are buffered: a Content-Length
at or under the threshold. Anything chunked (live transcodes), any event stream and any
large body (media, Range slices of it) is streamed from the first byte.
"""

from __future__ import annotations

from mitmproxy import http


def _small(headers: http.Headers, threshold: int) -> bool:
    if "transfer-encoding" in headers:
        return False
    length = headers.get("content-length")
    if length is None:
        return False
    try:
        return int(length) <= threshold
    except ValueError:
        return False


def should_stream_response(response: http.Response, threshold: int) -> bool:
    if response.status_code in (204, 304):
        return False
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return True
    return not _small(response.headers, threshold)


def should_stream_request(request: http.Request, threshold: int) -> bool:
    headers = request.headers
    if "transfer-encoding" not in headers and "content-length" not in headers:
        return False  # no body at all (GET, HEAD, most Plex API calls)
    return not _small(headers, threshold)
