"""The manager's HTTP API, on asyncio streams (stdlib only; the API is four routes).

- `POST /api/v1/events`: one event object or a JSON list of at most MAX_EVENTS, `Authorization:
  Bearer <token>`. Answers 202 once the events are durably queued (processing is
  asynchronous): `{"accepted": n, "duplicates": n, "rejected": [{"index": i, "error": "…"}],
  "rejected_count": n}` (the first MAX_REJECTIONS_SHOWN rejections); 400 when nothing in the
  body is a valid event, 413 for more events than MAX_EVENTS, 401 without the right token.
- `POST /?token=<token>`: the original product's proxy payload (see legacy.py).
- `GET /health`: liveness, no token needed.
- `GET /api/v1/status`: servers, users, queue depth, last sync (bearer token).

Client input never gets a 500: a malformed request (framing, JSON, an event field) is
answered 400 with what is wrong, or 413 when it is too big.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from manager.event import EventError, PlaybackEvent, TooManyEvents, loads, read_batch
from manager.logs import Throttle, get_logger
from manager.servers.plex.legacy import from_legacy

log = get_logger("manager.receiver")

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
IDLE_TIMEOUT = 75.0
BODY_TIMEOUT = 30.0
# Proxies send one event per request; a list is for batches, not for floods. Parsing stops
# at the first item past the cap, so a huge list costs little memory.
MAX_EVENTS = 1000
MAX_REJECTIONS_SHOWN = 20
_DIGITS = re.compile(rb"[0-9]{1,12}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,12}")
_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    duplicates: int


Accept = Callable[[list[PlaybackEvent]], Awaitable[Accepted]]
Status = Callable[[], Awaitable[dict[str, Any]]]


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def _token_ok(expected: bytes, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape"))


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Request | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=IDLE_TIMEOUT)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(413, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise HttpError(400, "bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(400, "bad header line")
        name, value = name.strip().lower(), value.strip()
        # Two different lengths (or a length beside chunking) would let a proxy in front
        # and this server disagree on where the body ends: refuse, do not pick one.
        if name == "content-length" and headers.get(name, value) != value:
            raise HttpError(400, "conflicting Content-Length")
        headers[name] = value
    connection = headers.get("connection", "").lower()
    keep_alive = (version == "HTTP/1.1" and connection != "close") or connection == "keep-alive"
    try:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    except ValueError:
        raise HttpError(400, "bad request target") from None
    chunked = "transfer-encoding" in headers
    if chunked and headers["transfer-encoding"].lower() != "chunked":
        raise HttpError(400, "unsupported Transfer-Encoding")
    if chunked and "content-length" in headers:
        raise HttpError(400, "both Transfer-Encoding and Content-Length")
    length = 0
    if "content-length" in headers:
        raw_length = headers["content-length"].encode("latin-1")
        if not _DIGITS.fullmatch(raw_length):  # int() would take "-5", "+5", "1_0", " 5"
            raise HttpError(400, "bad Content-Length")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            raise HttpError(413, "body too large")
    elif not chunked and method in ("POST", "PUT"):
        raise HttpError(411, "Content-Length required")
    if headers.get("expect", "").lower() == "100-continue":
        # curl asks before sending a body over 1 kB (the original proxy posted with curl).
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    if chunked:
        body = await _read_chunked(reader)
    else:
        body = await asyncio.wait_for(reader.readexactly(length), BODY_TIMEOUT) if length else b""
    return Request(method.upper(), target, parts.path or "/", query, headers, body, keep_alive)


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), BODY_TIMEOUT)
    except asyncio.LimitOverrunError:
        raise HttpError(400, "chunk line too long") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await _read_line(reader)
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):  # int(x, 16) would take "-2", "0x2", "+2"
            raise HttpError(400, "bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(100):  # trailer lines, up to the empty one
                if await _read_line(reader) == b"\r\n":
                    return b"".join(chunks)
            raise HttpError(400, "too many trailer lines")
        total += size
        if total > MAX_BODY_BYTES:
            raise HttpError(413, "body too large")
        chunks.append(await asyncio.wait_for(reader.readexactly(size), BODY_TIMEOUT))
        if await asyncio.wait_for(reader.readexactly(2), BODY_TIMEOUT) != b"\r\n":
            raise HttpError(400, "chunk not followed by CRLF")


def _response(status: int, payload: Any, keep_alive: bool) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
    )
    if status == 401:
        head += 'WWW-Authenticate: Bearer realm="plex-cluster"\r\n'
    return head.encode("latin-1") + b"\r\n" + body


class Receiver:
    def __init__(self, token: str, accept: Accept, status: Status) -> None:
        self._token = token.encode("utf-8")
        self._accept = accept
        self._status = status
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self._throttle = Throttle()  # anyone can send a wrong token on every request
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._serve, host, port, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = str(sock[0]), int(sock[1])
        return self.host, self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader, writer)
                except HttpError as exc:
                    writer.write(_response(exc.status, {"error": str(exc)}, False))
                    await writer.drain()
                    break
                except (asyncio.IncompleteReadError, TimeoutError):
                    break  # the client went quiet or away: nobody left to answer
                if request is None:
                    break
                status, payload = await self._route(request)
                writer.write(_response(status, payload, request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # a bug of ours; the connection ends, the server goes on
            log.exception("connection_failed")
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, req: Request) -> tuple[int, Any]:
        started = time.monotonic()
        try:
            if req.path == "/health":
                if req.method not in ("GET", "HEAD"):
                    return 405, {"error": "use GET"}
                return 200, {"status": "ok"}
            if req.path == "/api/v1/status":
                if req.method != "GET":
                    return 405, {"error": "use GET"}
                if not self._bearer_ok(req):
                    return 401, {"error": "missing or wrong bearer token"}
                return 200, await self._status()
            if req.path == "/api/v1/events":
                if req.method != "POST":
                    return 405, {"error": "use POST"}
                if not self._bearer_ok(req):
                    if (held := self._throttle("events_refused")) is not None:
                        log.warning("events_refused", reason="bad token", held=held)
                    return 401, {"error": "missing or wrong bearer token"}
                return await self._events(req)
            if req.path == "/":
                if req.method != "POST":
                    return 405, {"error": "use POST"}
                if not _token_ok(self._token, req.query.get("token")):
                    if (held := self._throttle("legacy_refused")) is not None:
                        log.warning("legacy_refused", reason="bad token", held=held)
                    return 401, {"error": "missing or wrong token"}
                return await self._legacy(req)
            return 404, {"error": f"no route {req.path}"}
        except Exception:
            log.exception("request_failed", path=req.path)
            return 500, {"error": "internal error"}
        finally:
            log.debug(
                "http",
                method=req.method,
                path=req.path,
                ms=round((time.monotonic() - started) * 1000, 2),
            )

    def _bearer_ok(self, req: Request) -> bool:
        value = req.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and _token_ok(self._token, token.strip())

    async def _events(self, req: Request) -> tuple[int, Any]:
        try:
            items = read_batch(req.body, MAX_EVENTS)
        except EventError as exc:
            status = 413 if isinstance(exc, TooManyEvents) else 400
            log.warning("events_rejected", error=str(exc))
            return status, {"error": str(exc)}
        events: list[PlaybackEvent] = []
        rejected: list[dict[str, Any]] = []
        count = 0
        for index, item in enumerate(items):
            try:
                events.append(PlaybackEvent.from_dict(item))
            except EventError as exc:
                count += 1
                if len(rejected) < MAX_REJECTIONS_SHOWN:
                    rejected.append({"index": index, "error": str(exc)})
        if not events:
            log.warning(
                "events_rejected",
                count=count,
                first=rejected[0]["error"] if rejected else "empty",
            )
            return 400, {
                "error": "no valid event in body",
                "rejected": rejected,
                "rejected_count": count,
            }
        result = await self._accept(events)
        if rejected:
            log.warning("events_rejected", count=count, first=rejected[0]["error"])
        return 202, {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": rejected,
            "rejected_count": count,
        }

    async def _legacy(self, req: Request) -> tuple[int, Any]:
        try:
            event = from_legacy(loads(req.body))
        except EventError as exc:
            error = str(exc)[:300]  # it may quote the client's input: keep the line short
            log.warning("legacy_rejected", error=error)
            return 400, {"error": error}
        if event is None:
            return 200, {"ignored": "replay"}
        result = await self._accept([event])
        return 200, {"accepted": result.accepted, "duplicates": result.duplicates}
