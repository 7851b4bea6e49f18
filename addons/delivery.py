"""Background delivery of spooled events to the manager.

Runs in its own thread with a blocking HTTP client, so nothing the manager does (slow,
down, refusing) can touch mitmproxy's event loop. One event per POST, in spool order; an
event leaves the spool only after the manager acknowledged it.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx

from addons.config import Settings
from addons.spool import Spool, Spooled
from manager.logs import get_logger

log = get_logger("plex_cluster.delivery")

FIRST_RETRY = 0.5
IDLE_WAIT = 30.0
# The manager said "never": resending the same bytes cannot succeed, so log and drop.
# Auth and routing errors (401/403/404/405) are configuration, fixed by a human: keep retrying.
_RETRY_4XX = frozenset({401, 403, 404, 405, 407, 408, 425, 429})
USER_AGENT = "plex-cluster-proxy/1"


class Outcome(enum.Enum):
    ACK = "ack"
    DROP = "drop"
    RETRY = "retry"


def classify(status: int) -> Outcome:
    if 200 <= status < 300 or status == 409:  # 409: the manager already has this id
        return Outcome.ACK
    if 400 <= status < 500 and status not in _RETRY_4XX:
        return Outcome.DROP
    return Outcome.RETRY


def _server_id(upstream_url: str) -> str | None:
    """The server's own id from its public, unauthenticated answers: Plex's /identity
    (machineIdentifier), else Jellyfin's and Emby's /System/Info/Public (Id)."""
    base = upstream_url.rstrip("/")
    # Plex's own certificate names *.plex.direct, not the LAN address the proxy uses, and
    # no token is sent: hence no verification.
    resp = httpx.get(base + "/identity", timeout=2.0, verify=False)
    if resp.status_code == 200 and resp.content.lstrip().startswith(b"<"):
        return ET.fromstring(resp.content).get("machineIdentifier")
    resp = httpx.get(base + "/System/Info/Public", timeout=2.0, verify=False)
    resp.raise_for_status()
    info = resp.json()
    ident = info.get("Id") if isinstance(info, dict) else None
    return ident if isinstance(ident, str) else None


class IdentityCache:
    """The server id per upstream (machineIdentifier on Plex, Id on Jellyfin and Emby),
    fetched lazily from its public answers."""

    NEGATIVE_TTL = 60.0

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._failed: dict[str, float] = {}

    def get(self, upstream_url: str) -> str | None:
        if upstream_url in self._known:
            return self._known[upstream_url]
        if time.monotonic() - self._failed.get(upstream_url, -1e9) < self.NEGATIVE_TTL:
            return None
        try:
            ident = _server_id(upstream_url)
        except (httpx.HTTPError, ET.ParseError, ValueError) as exc:
            log.debug("identity lookup failed", upstream=upstream_url, error=str(exc))
            ident = None
        if ident:
            self._known[upstream_url] = ident
        else:
            self._failed[upstream_url] = time.monotonic()
        return ident


class Delivery:
    def __init__(self, spool: Spool, settings: Settings) -> None:
        self.spool = spool
        self.settings = settings
        self.identities = IdentityCache()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="plex-cluster-delivery", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            with httpx.Client(
                timeout=httpx.Timeout(10.0, connect=5.0), headers={"User-Agent": USER_AGENT}
            ) as client:
                while not self._stop.is_set():
                    try:
                        self._loop(client)
                    except Exception:
                        # e.g. the spool unreadable for a moment: the events stay where
                        # they are; try again rather than stop delivering until a restart
                        log.exception("delivery loop failed, retrying")
                        self._stop.wait(self.settings.retry_max)
        finally:
            self.spool.close()

    def _loop(self, client: httpx.Client) -> None:
        delay = 0.0
        failures = 0
        if not self.settings.events_url:
            log.warning("no cluster_manager configured: events are spooled, not delivered")
        while not self._stop.is_set():
            self._wakeup.clear()
            batch = self.spool.peek(50) if self.settings.events_url else []
            if not batch:
                self._wakeup.wait(IDLE_WAIT)
                continue
            for row in batch:
                if self._stop.is_set():
                    return
                outcome, detail = self._send(client, row)
                if outcome is Outcome.RETRY:
                    failures += 1
                    delay = min(max(FIRST_RETRY, delay * 2), self.settings.retry_max)
                    if failures == 1 or failures % 20 == 0:
                        log.warning(
                            "manager unavailable, will retry",
                            detail=detail,
                            attempts=failures,
                            retry_in_s=delay,
                            spooled=self.spool.count(),
                        )
                    self._stop.wait(delay)
                    break
                if failures:
                    log.info("manager reachable again", after_attempts=failures)
                failures, delay = 0, 0.0
                if outcome is Outcome.DROP:
                    log.error(
                        "manager rejected event, dropped",
                        id=row.event_id,
                        kind=row.kind,
                        detail=detail,
                    )
                self.spool.delete(row.seq)
                if outcome is Outcome.ACK:
                    self.delivered += 1
                    log.debug("event delivered", id=row.event_id, kind=row.kind, state=row.state)

    def _payload(self, row: Spooled) -> bytes:
        data: dict[str, Any] = json.loads(row.body)
        if not data.get("machine_identifier") and data.get("upstream_url"):
            data["machine_identifier"] = self.identities.get(data["upstream_url"])
        return json.dumps(data, separators=(",", ":")).encode()

    def _send(self, client: httpx.Client, row: Spooled) -> tuple[Outcome, str]:
        headers = {"Content-Type": "application/json"}
        if self.settings.manager_token:
            headers["Authorization"] = f"Bearer {self.settings.manager_token}"
        try:
            payload = self._payload(row)
        except ValueError as exc:  # a damaged row: no manager could ever accept it
            return Outcome.DROP, f"spooled event is not valid JSON: {exc}"
        try:
            resp = client.post(self.settings.events_url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome.RETRY, f"{type(exc).__name__}: {exc}"
        return classify(resp.status_code), f"HTTP {resp.status_code} {resp.text[:200]}"
