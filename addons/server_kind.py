"""Which kind of media server this proxy fronts (`cluster_server_kind`): plex, jellyfin,
emby, or auto.

"auto" asks the upstream once, in the background, for its public system info
(`GET /System/Info/Public`: JSON naming the product on Jellyfin and Emby; Plex has no such
route). Client traffic never waits for the answer: until the kind is known both families
of playback paths are recognised, which is safe because they are disjoint (Plex's all
start with `/:/`). An upstream that is down is asked again, less and less often.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from mitmproxy import ctx
from mitmproxy.proxy.mode_specs import ProxyMode, ReverseMode

from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")

KINDS = ("auto", "plex", "jellyfin", "emby")
INFO_PATH = "/System/Info/Public"
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 60.0


def kind_from_info(status: int, body: bytes) -> str | None:
    """The kind an answer to `GET /System/Info/Public` shows; None when it shows nothing
    yet (the server is starting or failing: ask again)."""
    if status >= 500 or status in (408, 429):
        return None
    if status != 200:
        return "plex"  # Plex answers 401/404 for a route it does not have
    try:
        info = json.loads(body)
    except (ValueError, RecursionError):
        return "plex"
    if not isinstance(info, dict):
        return "plex"
    product = str(info.get("ProductName") or "").lower()
    if "jellyfin" in product:
        return "jellyfin"
    if "emby" in product:
        return "emby"
    # Emby's older answers name no product but carry the same server fields.
    return "emby" if "Id" in info and "Version" in info else "plex"


def reverse_upstream(modes: list[str]) -> str | None:
    """The one upstream of mitmproxy's reverse mode(s), or None (none, or several)."""
    found = set()
    for spec in modes:
        try:
            mode = ProxyMode.parse(spec)
        except ValueError:
            continue
        if isinstance(mode, ReverseMode):
            host, port = mode.address
            found.add(f"{mode.scheme}://{host}:{port}")
    return found.pop() if len(found) == 1 else None


class ServerKind:
    """Holds what the proxy recognises: `plex` and `jellyfin` (Jellyfin and Emby paths)."""

    def __init__(self) -> None:
        self.kind: str | None = None  # None until known
        self.plex = True
        self.jellyfin = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "cluster_server_kind",
            str,
            "auto",
            "Kind of the media server behind this proxy: plex, jellyfin, emby, or auto "
            "(asked once from its public system info, in the background).",
            choices=list(KINDS),
        )

    def configure(self, updated: set[str]) -> None:
        if "cluster_server_kind" in updated:
            chosen = ctx.options.cluster_server_kind
            self._set(None if chosen == "auto" else chosen)
            if chosen != "auto":
                log.info("server kind set", kind=chosen)

    def running(self) -> None:
        if ctx.options.cluster_server_kind != "auto" or self._thread is not None:
            return
        upstream = reverse_upstream(list(ctx.options.mode))
        if upstream is None:
            log.info("server kind not detected (no single reverse upstream): recognising all")
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._detect, args=(upstream,), name="plex-cluster-kind", daemon=True
        )
        self._thread.start()

    def done(self) -> None:
        self._stop.set()

    def _set(self, kind: str | None) -> None:
        self.kind = kind
        self.plex = kind in (None, "plex")
        self.jellyfin = kind in (None, "jellyfin", "emby")

    def _detect(self, upstream: str) -> None:
        delay = FIRST_RETRY_S
        url = upstream.rstrip("/") + INFO_PATH
        while not self._stop.is_set():
            kind, detail = self._ask(url)
            if self._stop.is_set() or ctx.options.cluster_server_kind != "auto":
                return
            if kind is not None:
                self._set(kind)
                log.info("server kind detected", kind=kind, upstream=upstream, **detail)
                return
            log.debug("server kind not known yet, asking again", retry_in_s=delay, **detail)
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    @staticmethod
    def _ask(url: str) -> tuple[str | None, dict[str, Any]]:
        try:
            # Public and unauthenticated; a self-signed or plex.direct certificate is the
            # norm on a LAN, so no verification (nothing secret is sent).
            resp = httpx.get(url, timeout=5.0, verify=False)
        except httpx.HTTPError as exc:
            return None, {"error": type(exc).__name__}
        kind = kind_from_info(resp.status_code, resp.content)
        return kind, {"status": resp.status_code}
