"""A stdlib HTTP receiver for the emulators' webhooks: records every POST, answers 200."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def parts(self) -> dict[str, tuple[str, bytes]]:
        """multipart/form-data parts: name -> (content type, bytes)."""
        head = f"Content-Type: {self.content_type}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        out: dict[str, tuple[str, bytes]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            out[str(name)] = (part.get_content_type(), part.get_payload(decode=True))
        return out

    def json(self) -> Any:
        """The JSON payload whatever the framing: Plex 'payload' part, Emby 'data' part, or
        the whole body."""
        if self.content_type.startswith("multipart/form-data"):
            parts = self.parts()
            key = "payload" if "payload" in parts else "data"
            return json.loads(parts[key][1])
        return json.loads(self.body)


class HookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with outer._lock:
                    outer.received.append(Received(self.path, hdrs, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def events(self, key: str = "event") -> list[str]:
        """The event name of every payload received, in order (Plex "event", Emby "Event",
        Jellyfin "NotificationType")."""
        with self._lock:
            got = list(self.received)
        return [r.json().get(key) for r in got]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        with self._lock:
            return list(self.received)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
