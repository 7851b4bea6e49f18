"""Real processes and servers for the proxy tests and the proxy benchmark.

Everything binds 127.0.0.1 on a port the kernel picks. Nothing here imitates our own
components: mitmdump runs as a subprocess with the real addon (tests.support.processes),
the manager is stood in for by a tiny HTTP receiver that records what the delivery loop
posts.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import wsproto
import wsproto.connection
import wsproto.events
import wsproto.utilities

from tests.support import polling
from tests.support.processes import LOCALHOST, free_port


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    """The shared poll, with the proxy tests' own (tighter) default limit."""
    return polling.wait_for(predicate, timeout)


# ---- the manager stand-in -------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    """Records every POST; answers `status` (default 200). down()/up() keep the port."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def up(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                with outer.lock:
                    outer.received.append(Received(self.path, dict(self.headers), body))
                    status = outer.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOCALHOST, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received if isinstance(r.body, dict)]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


# ---- an upstream for the stream path --------------------------------------------------

BLOCK = random.Random(7).randbytes(1 << 20)  # media bytes: byte i of a file is BLOCK[i % 1 MiB]
API_BODY = b'<?xml version="1.0"?><MediaContainer size="1"><Video ratingKey="1"/></MediaContainer>'


def media_bytes(start: int, end: int) -> bytes:
    """Bytes [start, end) of the endless test file (for checking Range answers)."""
    out = bytearray()
    pos = start
    while pos < end:
        off = pos % len(BLOCK)
        take = min(len(BLOCK) - off, end - pos)
        out += BLOCK[off : off + take]
        pos += take
    return bytes(out)


class MediaUpstream:
    """Stands in for Plex's media side: big bodies made on the fly, Range, chunked, ws echo.

    GET /file?size=N           N bytes, Content-Length, honours a single Range
    GET /chunked?delay=S&n=K   K small chunks, S seconds apart (a live transcode)
    GET /gated?gate=NAME       one chunk, then waits for gate(NAME).set() before the rest
    GET /api                   a small XML body (an API call)
    GET /identity              machineIdentifier, like Plex
    any /:/...                 200 with an empty MediaContainer (playback requests)
    GET /ws                    websocket echo
    """

    MACHINE_ID = "media-upstream-0001"

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.scheme = "https" if tls else "http"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._gates: dict[str, threading.Event] = {}
        self.server = http.server.ThreadingHTTPServer((LOCALHOST, self.port), self._handler())
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOCALHOST}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def gate(self, name: str) -> threading.Event:
        return self._gates.setdefault(name, threading.Event())

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _small(self, body: bytes, ctype: str = "text/xml") -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if length:
                    self.rfile.read(length)
                self.do_GET()

            def do_PUT(self) -> None:
                self.do_POST()

            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers)))
                path, _, query = self.path.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if path == "/file":
                    return self._file(int(params.get("size", "1048576")))
                if path == "/chunked":
                    return self._chunked(
                        float(params.get("delay", "0.5")), int(params.get("n", "3"))
                    )
                if path == "/gated":
                    return self._gated(outer.gate(params["gate"]))
                if path == "/ws":
                    return self._websocket()
                if path == "/identity":
                    ident = f'<MediaContainer size="0" machineIdentifier="{outer.MACHINE_ID}"/>'
                    return self._small(ident.encode())
                if path.startswith("/:/"):
                    return self._small(b'<MediaContainer size="0"/>')
                return self._small(API_BODY)

            def _file(self, size: int) -> None:
                start, end = 0, size
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    a, _, b = rng[6:].partition("-")
                    start = int(a)
                    end = min(size, int(b) + 1) if b else size
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start))
                self.end_headers()
                pos = start
                view = memoryview(BLOCK)
                try:
                    while pos < end:
                        off = pos % len(BLOCK)
                        take = min(len(BLOCK) - off, end - pos)
                        self.wfile.write(view[off : off + take])
                        pos += take
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunked(self, delay: float, n: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for i in range(n):
                        if i:
                            time.sleep(delay)
                        chunk = b"x" * 1024
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _gated(self, gate: threading.Event) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self.wfile.write(b"5\r\nfirst\r\n")
                    self.wfile.flush()
                    gate.wait(60)
                    self.wfile.write(b"4\r\nrest\r\n0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _websocket(self) -> None:
                key = self.headers.get("Sec-WebSocket-Key", "").encode()
                accept = wsproto.utilities.generate_accept_token(key)
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept.decode())
                self.end_headers()
                self.wfile.flush()
                conn = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
                sock = self.connection
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    conn.receive_data(data)
                    for event in conn.events():
                        if isinstance(event, wsproto.events.Message):
                            # echo each fragment back as it completes
                            reply = (
                                wsproto.events.TextMessage(
                                    event.data, message_finished=event.message_finished
                                )
                                if isinstance(event, wsproto.events.TextMessage)
                                else wsproto.events.BytesMessage(
                                    event.data, message_finished=event.message_finished
                                )
                            )
                            sock.sendall(conn.send(reply))
                        elif isinstance(event, wsproto.events.Ping):
                            sock.sendall(conn.send(event.response()))
                        elif isinstance(event, wsproto.events.CloseConnection):
                            sock.sendall(conn.send(event.response()))
                            self.close_connection = True
                            return
                self.close_connection = True

        return Handler


class WsClient:
    """A minimal blocking websocket client (wsproto) for the echo test and the benchmark."""

    def __init__(self, port: int, path: str = "/ws") -> None:
        self.sock = socket.create_connection((LOCALHOST, port), timeout=30)
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.sock.sendall(
            self.ws.send(wsproto.events.Request(host=f"{LOCALHOST}:{port}", target=path))
        )
        self._pending: list[Any] = []
        accepted = self._next(wsproto.events.AcceptConnection, wsproto.events.RejectConnection)
        if not isinstance(accepted, wsproto.events.AcceptConnection):
            raise RuntimeError(f"websocket refused: {accepted}")

    def _next(self, *types: type) -> Any:
        while True:
            for i, event in enumerate(self._pending):
                if isinstance(event, types):
                    return self._pending.pop(i)
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("websocket closed")
            self.ws.receive_data(data)
            self._pending.extend(self.ws.events())

    def send(self, payload: bytes) -> None:
        self.sock.sendall(self.ws.send(wsproto.events.BytesMessage(payload)))

    def receive(self) -> bytes:
        buf = bytearray()
        while True:
            event = self._next(wsproto.events.BytesMessage, wsproto.events.TextMessage)
            buf += event.data if isinstance(event.data, bytes) else event.data.encode()
            if event.message_finished:
                return bytes(buf)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(self.ws.send(wsproto.events.CloseConnection(code=1000)))
        self.sock.close()


def fmt_bytes(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"
