"""Events kept on disk until the manager has them (`cluster_spool_max`, `cluster_manager`,
`cluster_manager_token`, `cluster_retry_max`).

An event goes to the spool (SQLite) on a writer thread of its own, through the backlog: if
the spool refuses writes (disk full) events are held in memory, in order, and retried. A
delivery thread sends spooled events to the manager. Lifecycle hooks stay synchronous so
mitmproxy's script hot reload works.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mitmproxy import ctx

from addons import config
from addons.backlog import RETRY_S, Backlog
from addons.delivery import Delivery
from addons.spool import PutResult, Spool
from manager.event import PlaybackEvent
from manager.logs import get_logger
from manager.redaction import redact

log = get_logger("plex_cluster.proxy")

OPTIONS = ("cluster_spool_max", "cluster_manager", "cluster_manager_token", "cluster_retry_max")
READY_LINE = "plex-cluster addon ready"


class EventSpool:
    def __init__(self) -> None:
        self.settings: config.Settings | None = None
        self.spool: Spool | None = None
        self.delivery: Delivery | None = None
        self.writer: ThreadPoolExecutor | None = None
        # Events the spool refused; the writer thread alone touches it and its timer.
        self.backlog = Backlog()
        self._retry_timer: threading.Timer | None = None
        self._running = False
        self._spool_max = 100_000

    # ---- lifecycle (synchronous on purpose) -------------------------------------------

    def load(self, loader: Any) -> None:
        config.register(loader, OPTIONS)

    def use_dir(self, data_dir: Path) -> None:
        """The data directory is known, or moved: the spool opens there (held events move
        along)."""
        self._open_spool(data_dir, self._spool_max)
        if self._running:
            self._restart_delivery()

    def configure(self, updated: set[str]) -> None:
        if not updated & set(OPTIONS):
            return
        old, self.settings = self.settings, config.Settings.from_options(ctx.options)
        self._spool_max = self.settings.spool_max
        if self.spool is not None:
            self.spool.max_events = self.settings.spool_max
        if self._running and old != self.settings:
            self._restart_delivery()

    def running(self) -> None:
        self._running = True
        self._restart_delivery()
        settings = self.settings
        assert settings is not None and self.spool is not None
        log.info(
            READY_LINE,
            manager=settings.events_url or None,
            manager_token=redact(settings.manager_token) or None,
            spool=str(self.spool.path),
            spooled=self.spool.count(),
            server_name=settings.server_name or None,
        )

    def done(self) -> None:
        self._running = False
        self._close_spool(final=True)

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

    # ---- per event ---------------------------------------------------------------------

    async def put(self, event: PlaybackEvent) -> None:
        """Spool one event on the writer thread (awaited by the hook that has it)."""
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
