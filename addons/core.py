"""The mitmproxy addon: hooks that watch playback requests without touching the stream.

Lifecycle hooks (load/configure/running/done) stay synchronous so mitmproxy's script hot
reload works. Per-flow hooks return quickly; the only wait (the spool write for a playback
request that Plex accepted) happens on a writer thread while the event loop serves others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mitmproxy import ctx, http

from addons import config, forwarded, redacting_output, streaming
from addons.backlog import RETRY_S, Backlog
from addons.delivery import Delivery
from addons.spool import PutResult, Spool, private_dir
from manager import playback_request as playback
from manager.event import PlaybackEvent
from manager.logs import Throttle, configure_logging, get_logger
from manager.redaction import redact

log = get_logger("plex_cluster.proxy")

META = "plex_cluster"  # flow.metadata key: the event Plex has yet to accept, or "replay"
DEFAULT_CONFDIR = "~/.mitmproxy"
_PLAYBACK_PREFIXES = (b"/:/", b"/%3A/", b"/%3a/")


class PlexCluster:
    def __init__(self) -> None:
        self.settings: config.Settings | None = None
        self.spool: Spool | None = None
        self.delivery: Delivery | None = None
        self.writer: ThreadPoolExecutor | None = None
        # Events the spool refused; the writer thread alone touches it and its timer.
        self.backlog = Backlog()
        self._retry_timer: threading.Timer | None = None
        self._redactions: list[Any] = []
        self._running = False
        # Lines a client can cause once per request: one a minute each, with a count.
        self._throttle = Throttle()

    # ---- lifecycle (synchronous on purpose) -------------------------------------------

    def load(self, loader: Any) -> None:
        # Until configure() knows the options, log with defaults (redaction included).
        configure_logging("text", "INFO")
        config.register(loader)
        # httpx logs every request at INFO through the root logger mitmdump prints.
        for name in ("httpx", "httpcore", "peewee"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._set_mitmproxy_defaults()

    def _set_mitmproxy_defaults(self) -> None:
        wanted = {
            # Plex checks Origin and builds URLs against the Host the client used.
            "keep_host_header": True,
            # mitmproxy kills connections from public addresses by default, a guard for
            # forward proxies; this one exists to serve remote Plex clients.
            "block_global": False,
        }
        changes = {
            k: v for k, v in wanted.items() if k in ctx.options and getattr(ctx.options, k) != v
        }
        if changes:
            ctx.options.update(**changes)
            log.info("mitmproxy options set for a Plex front end", **changes)

    def configure(self, updated: set[str]) -> None:
        if self.settings is not None and not any(k.startswith("cluster_") for k in updated):
            return
        old = self.settings
        new = config.Settings.from_options(ctx.options)
        self.settings = new
        configure_logging(new.log_format, new.log_level.upper())
        if "http2" in ctx.options and ctx.options.http2 != new.http2:
            ctx.options.http2 = new.http2
        if ctx.options.confdir == DEFAULT_CONFDIR:
            confdir = new.data_dir / "mitmproxy"
            log.warning(
                "confdir was left at ~/.mitmproxy; moving mitmproxy's state under the data "
                "directory (pass --set confdir=... so mitmproxy never creates ~/.mitmproxy)",
                confdir=str(confdir),
            )
            confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
            ctx.options.confdir = str(confdir)
        self._make_private(new.data_dir, Path(ctx.options.confdir).expanduser())
        if self.spool is None or old is None or old.data_dir != new.data_dir:
            self._open_spool(new.data_dir, new.spool_max)  # held events move along
        elif self.spool is not None:
            self.spool.max_events = new.spool_max
        if self._running and (old is None or old != new):
            self._restart_delivery()

    @staticmethod
    def _make_private(data_dir: Path, confdir: Path) -> None:
        """The data directory holds tokens (spool) and, usually, mitmproxy's CA key."""
        targets = [data_dir]
        if confdir.resolve().is_relative_to(data_dir.resolve()) and confdir.is_dir():
            targets.append(confdir)
        for path in targets:
            try:
                if private_dir(path):
                    log.info("directory made private (0700)", path=str(path))
            except OSError as exc:
                log.warning("could not make directory private", path=str(path), error=str(exc))

    def running(self) -> None:
        self._running = True
        self._redactions = redacting_output.install(ctx.master)
        self._restart_delivery()
        settings = self.settings
        assert settings is not None and self.spool is not None
        log.info(
            "plex-cluster addon ready",
            manager=settings.events_url or None,
            manager_token=redact(settings.manager_token) or None,
            spool=str(self.spool.path),
            spooled=self.spool.count(),
            server_name=settings.server_name or None,
        )

    def done(self) -> None:
        self._running = False
        self._close_spool(final=True)
        redacting_output.uninstall(self._redactions)

    def _close_spool(self, final: bool = False) -> None:
        if self.delivery is not None:
            self.delivery.stop()  # closes its own connection
            self.delivery = None
        if self.writer is not None:
            if self.spool is not None:
                self.writer.submit(self._last_try, final)
                self.writer.submit(self.spool.close)  # the writer thread's connection
            self.writer.shutdown(wait=True)  # pending spool writes finish first
            self.writer = None
        if self._retry_timer is not None:  # the writer is gone: nothing else touches it
            self._retry_timer.cancel()
            self._retry_timer = None
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def _open_spool(self, data_dir: Path, spool_max: int) -> None:
        self._close_spool()
        self.spool = Spool(data_dir, spool_max)
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plex-cluster-spool")
        self.writer.submit(self._flush)  # events held for the previous spool, if any

    def _restart_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        assert self.spool is not None and self.settings is not None
        self.delivery = Delivery(self.spool, self.settings)
        self.delivery.start()

    # ---- per flow ------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        try:
            assert self.settings is not None
            if streaming.should_stream_request(flow.request, self.settings.stream_threshold):
                flow.request.stream = True
        except Exception:
            log.exception("requestheaders failed; request passes through untouched")

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            assert self.settings is not None
            forwarded.add_forwarded_headers(flow, self.settings.forwarded_for)
            # Cheap test on the raw bytes first; only /:/... paths get decoded and parsed.
            if flow.request.data.path.startswith(_PLAYBACK_PREFIXES):
                kind = playback.playback_kind(flow.request.path)
                if kind is not None:
                    self._note_playback(flow, kind)
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

    def responseheaders(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Decide streaming; for an accepted playback request, return the spool write.

        A plain function that returns an awaitable only when there is something to wait
        for: mitmproxy awaits it, and every other response skips coroutine overhead.
        """
        try:
            assert self.settings is not None and flow.response is not None
            if streaming.should_stream_response(flow.response, self.settings.stream_threshold):
                flow.response.stream = True
            pending = flow.metadata.get(META)
            if not isinstance(pending, PlaybackEvent):
                return None
            status = flow.response.status_code
            if not 200 <= status < 300:
                log.debug("Plex refused a playback request, not reported", status=status)
                return None
            event = dataclasses.replace(
                pending,
                upstream_status=status,
                proxy_name=self.settings.server_name or None,
                seen_at=time.time(),
            )
            return self._spool_event(event)
        except Exception:
            log.exception("responseheaders hook failed; response passes through untouched")
            return None

    async def _spool_event(self, event: PlaybackEvent) -> None:
        try:
            assert self.writer is not None
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.writer, self._store, event)
        except Exception:
            log.exception("event could not be spooled and is lost", id=event.id, kind=event.kind)

    # ---- the writer thread ------------------------------------------------------------

    def _store(self, event: PlaybackEvent) -> None:
        # Through the backlog even when it is empty: a new event never overtakes a held one.
        self.backlog.add(event)
        self._flush()

    def _flush(self) -> None:
        if not self.backlog or self.spool is None:
            return
        if not self.backlog.flush(self.spool, self._stored):
            self._retry_later()

    def _retry_later(self) -> None:
        if self._retry_timer is not None:
            return
        writer = self.writer

        def due() -> None:
            try:
                if writer is not None:
                    writer.submit(self._retry)
            except RuntimeError:  # the writer shut down; done() made the last attempt
                pass

        self._retry_timer = threading.Timer(RETRY_S, due)
        self._retry_timer.daemon = True
        self._retry_timer.start()

    def _retry(self) -> None:
        self._retry_timer = None
        self._flush()

    def _last_try(self, final: bool) -> None:
        self._flush()
        if final and self.backlog:
            error = self.backlog.error
            log.error(
                "spool still failing at shutdown: held events could not be kept",
                lost=self.backlog.abandon(),
                error=error,
            )

    def _stored(self, event: PlaybackEvent, result: PutResult) -> None:
        assert self.spool is not None
        if result.dropped:
            log.warning(
                "spool full: dropped oldest heartbeats",
                dropped=result.dropped,
                max_events=self.spool.max_events,
            )
        if result.over_cap:
            log.error("spool over its cap with events that are never dropped")
        log.debug(
            "event spooled",
            id=event.id,
            kind=event.kind,
            rating_key=event.rating_key,
            state=event.state,
            token=redact(event.token),
        )
        if self.delivery is not None:
            self.delivery.wake()

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        # mitmproxy keeps every message of a connection; Plex's notification socket lives
        # for hours. Earlier addons (the dumper) have already seen the newest one.
        try:
            if flow.websocket is not None and len(flow.websocket.messages) > 1:
                del flow.websocket.messages[:-1]
        except Exception:
            log.exception("websocket_message hook failed")
