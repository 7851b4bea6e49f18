"""uvicorn, in-process: serves the manager's ASGI app on the configured listen address.

Started and stopped by the service (no uvicorn CLI, no worker processes). What is set here
and why:
- h11 as the parser, always: a pure-Python, strict HTTP/1.1 parser that answers malformed
  framing (`Content-Length: -5`, a bad chunk size, two lengths) with a 400.
- uvicorn's access log is off: it prints the full target, and the legacy door carries its
  token in the query string. Our own `http` debug line names the path only.
- uvicorn's other lines (a malformed request, a forced shutdown) go through structlog, one
  line per event, throttled: any client can cause one per request.
- its signal handlers are not installed: `serve` owns SIGINT/SIGTERM (cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from manager.logs import Throttle, get_logger

log = get_logger("manager.receiver")

MAX_HEADER_BYTES = 64 * 1024
# Proxies keep their connection to the manager open between events.
IDLE_TIMEOUT = 75
# Requests still running when the service stops get this long to finish.
STOP_GRACE = 2


class _StructlogBridge(logging.Handler):
    """uvicorn's stdlib log records as structlog lines."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._throttle = Throttle()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            log.error("http_server", detail=message, exc_info=record.exc_info or False)
        elif (held := self._throttle(message)) is not None:
            log.warning("http_refused", detail=message, held=held)


def _route_uvicorn_logs() -> None:
    root = logging.getLogger("uvicorn")
    if not any(isinstance(h, _StructlogBridge) for h in root.handlers):
        root.handlers = [_StructlogBridge()]
        root.propagate = False
        # Its start/stop chatter repeats our own `listening` and `stopped` lines.
        root.setLevel(logging.WARNING)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service's own handlers stay in place


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address `host` names, as asyncio.start_server binds."""
    infos = socket.getaddrinfo(
        host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Listener:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listening once this returns; the bound address (port 0 picks a free one).
        Binding here, not in uvicorn, so a taken port raises OSError to the caller
        instead of uvicorn's sys.exit."""
        _route_uvicorn_logs()
        sockets = _bind(host, port)
        config = uvicorn.Config(
            self._app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # nothing here reads the client's address
            server_header=False,
            timeout_keep_alive=IDLE_TIMEOUT,
            timeout_graceful_shutdown=STOP_GRACE,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        )
        server = _Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=sockets), name="http")
        while not server.started:
            if self._task.done():  # failed before listening: raise its error here
                await self._task
                raise OSError("the HTTP server stopped before it started")
            await asyncio.sleep(0.005)
        bound: Any = sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        """Stop accepting, let running requests finish (STOP_GRACE), close the rest."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, timeout=STOP_GRACE + 3)
        self._server = self._task = None
