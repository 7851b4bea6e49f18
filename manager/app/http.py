"""The manager's HTTP plumbing on starlette: the route table, JSON answers, body limits.

Starlette does the routing and the request/response objects; uvicorn (listener.py) does
the wire. What is ours: every answer is JSON (errors included, as `{"error": "…"}`), a
body is read under a size cap and a time limit, and client input never gets a 500: a
handler's own failure is logged once and answered 500, anything the client got wrong is a
4xx naming what.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from manager.logs import get_logger

log = get_logger("manager.receiver")

MAX_BODY_BYTES = 4 * 1024 * 1024
# The whole body must arrive within this many seconds: a client trickling bytes would
# otherwise hold a connection (and a task) for as long as it likes.
BODY_TIMEOUT = 30.0

Answer = tuple[int, Any]
Handler = Callable[[Request], Awaitable[Answer]]


class HttpError(Exception):
    """A client error, answered with its status and `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Door:
    """One route: a path, the one method it takes (GET also answers HEAD), its handler."""

    path: str
    method: str
    handler: Handler


class JsonAnswer(Response):
    media_type = "application/json"

    def __init__(self, status: int, payload: Any) -> None:
        # ASCII-only JSON: an error message may quote client input, lone surrogates
        # included, which UTF-8 cannot encode (starlette's JSONResponse would fail on it).
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"WWW-Authenticate": 'Bearer realm="plex-cluster"'} if status == 401 else None
        super().__init__(body, status_code=status, headers=headers)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 past `limit` bytes (announced or streamed)."""
    headers = request.headers
    length = headers.get("content-length")
    if length is None and "transfer-encoding" not in headers:
        raise HttpError(411, "Content-Length required")
    # h11 has already refused a malformed Content-Length (or chunk size) with a 400.
    if length is not None and int(length) > limit:
        raise HttpError(413, "body too large")
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    raise HttpError(413, "body too large")
                chunks.append(chunk)
    except TimeoutError:
        raise HttpError(408, "body not received in time") from None
    return b"".join(chunks)


def _answering(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        started = time.monotonic()
        try:
            status, payload = await handler(request)
        except HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except ClientDisconnect:
            # Gone mid-body, or the body's framing was bad and uvicorn has answered 400
            # and closed: nobody reads what we send now.
            status, payload = 400, {"error": "incomplete body"}
        except Exception:  # a bug of ours: one line with the traceback, the server goes on
            log.exception("request_failed", path=request.scope["path"])
            status, payload = 500, {"error": "internal error"}
        log.debug(
            "http",
            method=request.method,
            path=request.scope["path"],  # never the query: the legacy door's token is there
            ms=round((time.monotonic() - started) * 1000, 2),
        )
        return JsonAnswer(status, payload)

    return endpoint


def build_app(doors: list[Door]) -> Starlette:
    methods = {door.path: door.method for door in doors}

    async def refused(request: Request, exc: Exception) -> Response:
        # Starlette raises these for a path no route has (404) or a method the route
        # does not take (405); answered in our JSON shape instead of its plain text.
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            allowed = methods.get(request.scope["path"], "GET")  # routes mounted apart: GET
            return JsonAnswer(405, {"error": f"use {allowed}"})
        if status == 404:
            raw = request.scope.get("raw_path") or request.scope["path"].encode()
            return JsonAnswer(404, {"error": f"no route {raw.decode('latin-1')}"})
        return JsonAnswer(status, {"error": str(getattr(exc, "detail", "refused"))})

    routes = [Route(door.path, _answering(door.handler), methods=[door.method]) for door in doors]
    app = Starlette(routes=routes, exception_handlers={HTTPException: refused})
    # "/health/" is not "/health": no 307 to a path the client did not ask for.
    app.router.redirect_slashes = False
    return app
