"""HTTP plumbing shared by the emulated servers: listener lifecycle and test hooks.

Each emulated host runs a stdlib ThreadingHTTPServer in a background thread. Going down
really closes the listening socket and every open keep-alive connection, so clients see
"connection refused"; coming up binds the same port again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from manager.logs import get_logger

_log = get_logger("fakeplex")
MAX_RECORDED = 100_000

ERROR_HTML = "<html><head><title>{title}</title></head><body><h1>{code} {title}</h1></body></html>"
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    498: "Token Expired",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    client_id: str | None
    headers: dict[str, str]
    time: float
    body: bytes = b""
    status: int | None = None  # filled in once answered

    def param(self, name: str) -> str | None:
        """An X-Plex-* style value from the query or, failing that, the headers."""
        if name in self.query:
            return self.query[name]
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Request:
    method: str
    path: str  # without query string, trailing "/" removed (except for "/")
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    record: RecordedRequest

    def plex(self, name: str) -> str | None:
        """X-Plex-* values may come as header or query parameter (query wins, as Plex Web)."""
        v = self.query.get(name)
        if v is None:
            v = self.headers.get(name.lower())
        return v

    @property
    def token(self) -> str | None:
        return self.plex("X-Plex-Token")

    @property
    def client_id(self) -> str | None:
        return self.plex("X-Plex-Client-Identifier")

    @property
    def wants_json(self) -> bool:
        return "application/json" in self.headers.get("accept", "")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/xml;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, status: int, title: str | None = None) -> Response:
        t = title or REASONS.get(status, "Error")
        body = ERROR_HTML.format(title=t, code=status).encode()
        return cls(status=status, body=body, content_type="text/html")


Handler = Callable[[Request], Response]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, addr: tuple[str, int], host: Host) -> None:
        self.host = host
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait
    # ~40 ms for the delayed ACK on every request.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

    def _dispatch(self) -> None:
        host = self.server.host
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k: v for k, v in self.headers.items()}
        lower = {k.lower(): v for k, v in headers.items()}
        path = split.path or "/"
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        record = RecordedRequest(
            method=self.command,
            path=split.path or "/",
            query=query,
            token=query.get("X-Plex-Token") or lower.get("x-plex-token"),
            client_id=query.get("X-Plex-Client-Identifier")
            or lower.get("x-plex-client-identifier"),
            headers=headers,
            time=time.time(),
            body=body,
        )
        req = Request(self.command, path, self.path, query, lower, body, record)
        resp = host.serve(req)
        if resp is None:  # host went down while we waited, or refused: drop the connection
            self.close_connection = True
            return
        record.status = resp.status
        self.send_response(resp.status, REASONS.get(resp.status))
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)


class Host:
    """A listening emulated host with recording, down/up, injected failures and delay."""

    def __init__(self, name: str, handler: Handler, bind: str = "127.0.0.1", port: int = 0):
        self.name = name
        self._handler = handler
        self._bind = bind
        self._port = port
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Bounded so a long-running demo does not grow without end; tests never get near it.
        self._requests: deque[RecordedRequest] = deque(maxlen=MAX_RECORDED)
        self._fail_remaining: int | None = 0
        self._fail_status = 500
        self._fail_forever = False
        self._delay = 0.0
        self._refuse: Callable[[RecordedRequest], bool] | None = None
        self.up = False

    # lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        srv = _HTTPServer((self._bind, self._port), self)
        self._port = srv.server_address[1]
        self._server = srv
        self._thread = threading.Thread(
            target=srv.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakeplex-{self.name}",
            daemon=True,
        )
        self._thread.start()
        self.up = True

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._bind}:{self._port}"

    def go_down(self) -> None:
        """Close the listener and all open connections: clients get connection refused."""
        with self._lock:
            srv, self._server = self._server, None
            self.up = False
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        srv.drop_connections()

    def come_up(self) -> None:
        with self._lock:
            if self._server is not None:
                return
        deadline = time.monotonic() + 5
        while True:
            try:
                self.start()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.go_down()

    # hooks ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail_next(self, n: int | None, status: int = 500) -> None:
        """Answer the next n requests (None: every request until fail_next(0)) with status."""
        with self._lock:
            self._fail_forever = n is None
            self._fail_remaining = 0 if n is None else int(n)
            self._fail_status = status

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def refuse_when(self, predicate: Callable[[RecordedRequest], bool] | None) -> None:
        """Drop the connection, unanswered, of every request for which predicate(request)
        is true (a network partition between those clients and this host); None lifts it."""
        with self._lock:
            self._refuse = predicate

    # serving -------------------------------------------------------------------------
    def serve(self, req: Request) -> Response | None:
        with self._lock:
            self._requests.append(req.record)
            delay = self._delay
            fail = self._fail_forever or bool(self._fail_remaining)
            if self._fail_remaining:
                self._fail_remaining -= 1
            status = self._fail_status
            refuse = self._refuse
        if refuse is not None and refuse(req.record):
            return None
        if delay:
            time.sleep(delay)
        if not self.up:
            return None
        if fail:
            return Response.error(status)
        try:
            return self._handler(req)
        except Exception as exc:  # an emulator bug must show up as a 500, not a hang
            _log.exception("emulator bug", host=self.name, method=req.method, path=req.path)
            return Response.error(500, f"Internal Server Error: {type(exc).__name__}")


class Hosted:
    """The test hooks of an emulated server (PMS or plex.tv), all served by its `host`."""

    host: Host

    def start(self) -> Self:
        self.host.start()
        return self

    @property
    def url(self) -> str:
        return self.host.url

    @property
    def port(self) -> int:
        return self.host.port

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.host.requests

    def clear_requests(self) -> None:
        self.host.clear_requests()

    def go_down(self) -> None:
        self.host.go_down()

    def come_up(self) -> None:
        self.host.come_up()

    def fail_next(self, n: int | None, status: int = 500) -> None:
        self.host.fail_next(n, status)

    def set_delay(self, seconds: float) -> None:
        self.host.set_delay(seconds)

    def refuse_when(self, predicate: Callable[[RecordedRequest], bool] | None) -> None:
        self.host.refuse_when(predicate)

    def stop(self) -> None:
        self.host.stop()
