"""Noticing playback-state requests the server accepted, and handing each over as an event.

On the way in a request whose path is a playback one is parsed: Plex's `/:/…` requests by
servers/plex/requests.py, Jellyfin's and Emby's by servers/jellyfin/requests.py (through
jellyfin_capture.py), whichever families `server_kind.py` says this upstream may serve.
When the server answers 2xx the event is stamped with that answer and the time and handed
to the spool. The hooks return quickly: the only wait, the spool write, runs on its own thread
while mitmproxy serves others. Requests the manager itself made (replays) are never
reported (`cluster_server_name` names this proxy in events).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable
from typing import Any

from mitmproxy import ctx, http

from addons import config, jellyfin_capture
from addons.server_kind import ServerKind
from addons.spooling import EventSpool
from manager.event import PlaybackEvent
from manager.logs import Throttle, get_logger
from manager.servers.jellyfin import requests as jf
from manager.servers.plex import requests as playback

log = get_logger("plex_cluster.proxy")

OPTIONS = ("cluster_server_name",)
META = "plex_cluster"  # flow.metadata key: the event Plex has yet to accept, or "replay"
_PLAYBACK_PREFIXES = (b"/:/", b"/%3A/", b"/%3a/")


class Capture:
    def __init__(self, spool: EventSpool, kind: ServerKind | None = None) -> None:
        self.spool = spool
        self.kind = kind or ServerKind()  # what the upstream may serve (both until known)
        self.server_name = ""
        # Lines a client can cause once per request: one a minute each, with a count.
        self._throttle = Throttle()

    def load(self, loader: Any) -> None:
        config.register(loader, OPTIONS)

    def configure(self, updated: set[str]) -> None:
        if "cluster_server_name" in updated:
            self.server_name = ctx.options.cluster_server_name

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            # Cheap tests on the raw bytes first; only candidate paths get decoded and parsed.
            if flow.request.data.path.startswith(_PLAYBACK_PREFIXES):
                kind = playback.playback_kind(flow.request.path)
                if kind is not None and self.kind.plex:
                    self._note_playback(flow, kind)
            elif self.kind.jellyfin and jellyfin_capture.candidate(flow.request):
                route = jf.route(flow.request.method, flow.request.path)
                if route is not None:
                    self._note_jellyfin(flow, route)
        except Exception:
            if (held := self._throttle("request hook failed")) is not None:
                log.exception("request hook failed; request passes through untouched", held=held)

    def _note_playback(self, flow: http.HTTPFlow, kind: str) -> None:
        req = flow.request
        if playback.is_replay(req.headers, req.query):
            flow.metadata[META] = "replay"
            log.debug("replayed by the manager, not reported", kind=kind)
            return
        form = None
        upstream = f"{req.scheme}://{req.host}:{req.port}"
        try:
            if req.method in ("POST", "PUT") and not req.stream and req.raw_content:
                try:
                    form = req.urlencoded_form
                except ValueError:  # e.g. a Content-Encoding that does not decode
                    raise playback.Invalid("form body unreadable") from None
            flow.metadata[META] = playback.parse(kind, req.headers, req.query, upstream, form)
        except playback.Invalid as why:
            # The client's own doing, possibly on every request: a short line, rate-limited.
            if (held := self._throttle("invalid playback request")) is not None:
                log.warning(
                    "playback request not reported: ambiguous or invalid",
                    kind=kind,
                    reason=str(why)[:200],
                    held=held,
                )
        except playback.Skip as why:
            log.debug("playback request not reported", kind=kind, reason=str(why))

    def _note_jellyfin(self, flow: http.HTTPFlow, route: jf.Route) -> None:
        try:
            noted = jellyfin_capture.note(flow, route)
        except jf.Invalid as why:
            if (held := self._throttle("invalid playback request")) is not None:
                log.warning(
                    "playback request not reported: ambiguous or invalid",
                    action=route.action,
                    reason=str(why)[:200],
                    held=held,
                )
            return
        except jf.Skip as why:
            log.debug("playback request not reported", action=route.action, reason=str(why))
            return
        if noted == jellyfin_capture.REPLAY:
            log.debug("replayed by the manager, not reported", action=route.action)
        flow.metadata[META] = noted

    def responseheaders(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """For an accepted playback request, the spool write (mitmproxy awaits it).

        A plain function that returns an awaitable only when there is something to wait
        for: every other response skips coroutine overhead.
        """
        try:
            pending = flow.metadata.get(META)
            if not isinstance(pending, PlaybackEvent) or flow.response is None:
                return None
            status = flow.response.status_code
            if not 200 <= status < 300:
                log.debug("the server refused a playback request, not reported", status=status)
                return None
            event = dataclasses.replace(
                pending,
                upstream_status=status,
                proxy_name=self.server_name or None,
                seen_at=time.time(),
            )
            return self.spool.put(event)
        except Exception:
            log.exception("responseheaders hook failed; response passes through untouched")
            return None
