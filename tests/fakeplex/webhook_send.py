"""Outgoing webhooks of an emulated server: a bounded queue drained by one sender thread.

Real servers post webhooks from their own background work, never inside the request that
changed the state, and a dead receiver costs them a log line, not an error. The emulators do
the same: `submit` never blocks the request handler (a full queue drops the oldest hook and
logs it), failures are logged and counted, and tests can `flush()` to wait for delivery.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tests.webhooks")

QUEUE_BOUND = 1000
POST_TIMEOUT = 5.0


@dataclass
class Hook:
    """One webhook as it goes on the wire."""

    url: str
    body: bytes
    headers: dict[str, str]
    event: str  # for logs and tests: the event name or notification type


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    events: list[str] = field(default_factory=list)  # event names handed over, in order


def multipart(parts: list[tuple[str, bytes, str, str | None]]) -> tuple[bytes, str]:
    """(name, data, content type, file name) parts -> (body, Content-Type header value)."""
    boundary = "------------------------" + secrets.token_hex(12)
    out: list[bytes] = []
    for name, data, ctype, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\nContent-Type: {ctype}\r\n\r\n"
        out.append(head.encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class WebhookSender:
    """Posts hooks in order from one daemon thread; `url` None means webhooks are off."""

    def __init__(self, server_name: str, *, bound: int = QUEUE_BOUND) -> None:
        self.server_name = server_name
        self.url: str | None = None
        self.options: dict[str, Any] = {}
        self.stats = SenderStats()
        self._queue: queue.Queue[Hook | None] = queue.Queue(maxsize=bound)
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def configure(self, url: str | None, **options: Any) -> None:
        self.url = url
        self.options = dict(options)

    def submit(self, event: str, body: bytes, headers: dict[str, str]) -> None:
        url = self.url
        if url is None:
            return
        hook = Hook(url=url, body=body, headers=headers, event=event)
        with self._idle:
            self._pending += 1
            self.stats.events.append(event)
        self._ensure_thread()
        while True:
            try:
                self._queue.put_nowait(hook)
                return
            except queue.Full:
                # A stuck receiver must not stall the server: the oldest hook goes.
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                log.warning("%s: webhook queue full, oldest hook dropped", self.server_name)
                self._done(dropped=True)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted hook was posted (or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        with self._lock:
            t, self._thread = self._thread, None
        if t is not None:
            self._queue.put(None)
            t.join(timeout=POST_TIMEOUT + 1)

    # ------------------------------------------------------------------ internals
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"webhooks-{self.server_name}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            hook = self._queue.get()
            if hook is None:
                return
            try:
                self._post(hook)
            finally:
                self._done()

    def _post(self, hook: Hook) -> None:
        req = urllib.request.Request(hook.url, data=hook.body, method="POST", headers=hook.headers)
        try:
            with urllib.request.urlopen(req, timeout=POST_TIMEOUT) as resp:
                resp.read()
            self.stats.sent += 1
        except urllib.error.HTTPError as exc:
            # The hook arrived; the receiver said no. Real servers log it and move on.
            self.stats.sent += 1
            log.info("%s: webhook %s answered %s", self.server_name, hook.event, exc.code)
        except (OSError, ValueError) as exc:
            self.stats.failed += 1
            name, event = self.server_name, hook.event
            log.warning("%s: webhook %s to %s failed: %s", name, event, hook.url, exc)

    def _done(self, *, dropped: bool = False) -> None:
        with self._idle:
            self._pending -= 1
            if dropped:
                self.stats.dropped += 1
            if self._pending == 0:
                self._idle.notify_all()
