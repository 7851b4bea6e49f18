"""Wires the manager together and runs it: receiver, event worker, outbox, server probes.

Start-up order: open the database, start listening (events are stored durably from the
first second), learn each server's machineIdentifier, load the user directory, build the
library indexes, then start processing events and delivering the outbox. A server that is
down at start is retried in the background; its peers keep syncing meanwhile. Events that
had to skip a server because its library index could not be read mark it
(`ServerRuntime.catch_up_users`); once it answers and its index is built, a full sync
limited to writes on it and to those users brings it up to date from the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from manager import db
from manager.config import Config
from manager.db import DbRunner
from manager.event import EventError, PlaybackEvent
from manager.library_index import LibraryIndex
from manager.logs import get_logger
from manager.outbox import Outbox
from manager.pipeline import Pipeline, ServerRuntime
from manager.plex.errors import PlexError
from manager.plex.plextv import PlexTvClient
from manager.plex.server_client import PlexServerClient
from manager.receiver import Accepted, Receiver

log = get_logger("manager.service")

EVENT_CONCURRENCY = 8
# Outcomes caused by something temporary (a server or plex.tv unreachable): try again.
RETRYABLE = frozenset({"source_unreadable", "user_lookup_failed", "error", "not_ready"})
EVENT_ATTEMPTS = 6
EVENT_RETENTION = 7 * 24 * 3600.0
PROBE_INTERVAL = 30.0
PROBE_INTERVAL_DOWN = 5.0  # while some server is down (or was down at start)
# Library indexes are rebuilt this often (seconds) so re-matched items get their new ids;
# a miss rebuilds sooner (LibraryIndex.find).
INDEX_MAX_AGE = 6 * 3600.0
# A catch-up sync that could not finish (the peer failed again, a write was refused) is
# tried again after this many seconds, not on every probe tick.
CATCH_UP_RETRY = 60.0


def server_ref(server: ServerRuntime) -> Any:
    from manager.users import ServerRef

    return ServerRef(
        name=server.name,
        machine_identifier=server.machine_identifier or "",
        admin_token=server.config.token,
        client=server.client,
    )


def build_user_directory(plextv: PlexTvClient, servers: list[ServerRuntime]) -> Any:
    """The UserDirectory; a server not reached yet (no machineIdentifier) joins later
    through update_server()."""
    from manager.users import UserDirectory

    return UserDirectory(plextv, [server_ref(s) for s in servers])


class Service:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.started_at = time.time()
        self.runner: DbRunner | None = None
        self.http: httpx.AsyncClient | None = None
        self.servers: list[ServerRuntime] = []
        self.plextv: PlexTvClient | None = None
        self.users: Any = None
        self.pipeline: Pipeline | None = None
        self.outbox: Outbox | None = None
        self.receiver: Receiver | None = None
        self.ready = asyncio.Event()
        self.address: tuple[str, int] | None = None
        self._wake_events = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._event_attempts: dict[str, tuple[int, float]] = {}
        self._inflight_events: set[str] = set()
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._catch_up: asyncio.Task[None] | None = None
        self._catch_up_not_before: dict[str, float] = {}
        self.catch_up_waiting = False  # a catch-up is due but another sync holds the lease
        self.client_id = ""

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self.runner = await loop.run_in_executor(None, DbRunner, cfg.database)
        self.client_id = await self.runner.run(db.client_identifier)
        self.http = httpx.AsyncClient(
            timeout=cfg.delivery.timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        for server in cfg.servers:
            client = PlexServerClient(
                server.url,
                self.http,
                self.client_id,
                name=server.name,
                timeout=cfg.delivery.timeout,
            )
            index = LibraryIndex(client, server.token)
            self.servers.append(ServerRuntime(config=server, client=client, index=index))
        self.plextv = PlexTvClient(cfg.plextv_url, self.http, self.client_id)
        self.pipeline = Pipeline(cfg, self.servers, None, self.runner)
        self.outbox = Outbox(self.runner, self.pipeline.deliver, cfg.delivery)
        self.pipeline.outbox = self.outbox
        self.receiver = Receiver(cfg.token, self.accept, self.status)
        self.address = await self.receiver.start(cfg.listen_host, cfg.listen_port)
        log.info(
            "listening",
            host=self.address[0],
            port=self.address[1],
            servers=",".join(s.name for s in self.servers),
            database=cfg.database.split("://", 1)[0],
        )
        self._spawn(self._warm_up(), "warm-up")
        return self.address

    async def stop(self) -> None:
        self._stopping = True
        if self.receiver is not None:
            await self.receiver.stop()
        for task in self._tasks:
            task.cancel()
        if self._catch_up is not None:
            self._catch_up.cancel()
            self._tasks.append(self._catch_up)
        if self._event_tasks:
            # Events being processed finish (their writes reach the outbox) before we stop.
            await asyncio.wait(list(self._event_tasks), timeout=5)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.outbox is not None:
            await self.outbox.stop()
        if self.http is not None:
            await self.http.aclose()
        if self.runner is not None:
            self.runner.close()
        log.info("stopped")

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _warm_up(self) -> None:
        await asyncio.gather(*(self._probe(s) for s in self.servers))
        assert self.plextv is not None and self.pipeline is not None
        self.users = build_user_directory(self.plextv, self.servers)
        self.pipeline.users = self.users
        try:
            await self.users.refresh()
        except PlexError as exc:
            log.warning("users_refresh_failed", error=str(exc))
        await asyncio.gather(*(self._build_index(s) for s in self.servers if s.reachable))
        self.ready.set()
        assert self.outbox is not None
        self.outbox.start()
        self._spawn(self._event_worker(), "events")
        self._spawn(self._probe_loop(), "probes")
        self._spawn(self._full_syncs(), "full-sync")
        log.info(
            "ready",
            servers=",".join(f"{s.name}={'up' if s.reachable else 'down'}" for s in self.servers),
        )

    async def _full_syncs(self) -> None:
        """Full syncs at start (UPDATE_ON_START) and on FULL_SYNC_SCHEDULE (manager.fullsync)."""
        from manager.fullsync import scheduled_syncs

        await scheduled_syncs(self)

    async def _probe(self, server: ServerRuntime) -> None:
        try:
            ident = await server.client.identity()
        except PlexError as exc:
            if server.reachable is not False:
                log.warning("server_unreachable", server=server.name, error=str(exc))
            server.mark(False, str(exc))
            return
        if server.machine_identifier and server.machine_identifier != ident.machine_identifier:
            log.warning(
                "server_identity_changed",
                server=server.name,
                old=server.machine_identifier,
                new=ident.machine_identifier,
            )
        was_down = server.reachable is False
        server.machine_identifier = ident.machine_identifier
        server.mark(True)
        if was_down:
            retried = await self.outbox.peer_recovered(server.name) if self.outbox else 0
            log.info("server_back", server=server.name, queued_writes_retried=retried)

    async def _build_index(self, server: ServerRuntime) -> None:
        try:
            await server.index.refresh()
        except PlexError as exc:
            log.warning("index_build_failed", server=server.name, error=str(exc))

    async def _probe_loop(self) -> None:
        last_prune = 0.0
        last_full = time.monotonic()
        while not self._stopping:
            # Short ticks: a server seen failing (by a probe or by a delivery) is re-probed
            # within seconds, so its queued writes go out as soon as it is back.
            await asyncio.sleep(PROBE_INTERVAL_DOWN)
            full = time.monotonic() - last_full >= PROBE_INTERVAL
            if full:
                last_full = time.monotonic()
            for server in self.servers:
                if not full and server.reachable and server.index.built_at is not None:
                    continue
                known = server.machine_identifier
                await self._probe(server)
                built = server.index.built_at if server.index is not None else None
                if server.reachable and (built is None or time.time() - built > INDEX_MAX_AGE):
                    await self._build_index(server)
                if server.reachable and not known and server.machine_identifier:
                    # A server that was down at start: the user directory needs its id.
                    self.users.update_server(server_ref(server))
                    try:
                        await self.users.refresh()
                    except PlexError as exc:
                        log.warning("users_refresh_failed", error=str(exc))
            self._start_catch_up()
            if time.time() - last_prune > 3600 and self.runner is not None:
                last_prune = time.time()
                pruned = await self.runner.run(db.prune_events, time.time() - EVENT_RETENTION)
                if pruned:
                    log.info("events_pruned", count=pruned)

    # -- catching up a server that events had to skip --------------------------------------
    def _start_catch_up(self) -> None:
        """One catch-up at a time, for a marked server that answers and has its index."""
        if self._catch_up is not None and not self._catch_up.done():
            return
        now = time.monotonic()
        for server in self.servers:
            built = server.index is not None and server.index.built_at is not None
            if (
                server.catch_up_users
                and server.reachable
                and built
                and now >= self._catch_up_not_before.get(server.name, 0.0)
            ):
                self._catch_up = asyncio.create_task(
                    self._run_catch_up(server), name=f"catch-up-{server.name}"
                )
                return

    async def _run_catch_up(self, server: ServerRuntime) -> None:
        from manager.fullsync import lease_holder, run_in_service

        assert self.runner is not None
        holder = await self.runner.run(lease_holder)
        if holder is not None:
            # Another sync (scheduled, CLI) is running: the next probe tick tries again.
            if not self.catch_up_waiting:
                log.info("catch_up_waiting", server=server.name, sync_running=holder)
            self.catch_up_waiting = True
            return
        self.catch_up_waiting = False
        user_ids = sorted(server.catch_up_users)
        names = [self._user_name(u) for u in user_ids]
        log.info("catch_up_started", server=server.name, users=",".join(names))
        report = await run_in_service(self, "catch_up", servers=(server.name,), users=user_ids)
        if report is None:
            return  # another sync took the lease first: the next tick tries again
        summary = report.server(server.name)
        done = report.error is None and not summary.failed
        if done:
            server.catch_up_users.difference_update(user_ids)
        else:
            self._catch_up_not_before[server.name] = time.monotonic() + CATCH_UP_RETRY
        took = (report.finished_at or time.time()) - report.started_at
        log.info(
            "catch_up_finished",
            server=server.name,
            ok=done,
            users=",".join(names),
            seconds=round(took, 2),
            watched=summary.watched,
            unwatched=summary.unwatched,
            resume=summary.resume,
            failed=summary.failed,
            error=report.error or "; ".join(summary.errors[:3]) or None,
            retry_in_s=None if done else CATCH_UP_RETRY,
        )

    def _user_name(self, user_id: str) -> str:
        user = self.users.user(user_id) if self.users is not None else None
        return user.name if user is not None else user_id

    # -- events ------------------------------------------------------------------------
    async def accept(self, events: list[PlaybackEvent]) -> Accepted:
        assert self.runner is not None
        items = [(e.id, e.to_json()) for e in events]
        fresh = await self.runner.run(db.store_events, items, time.time())
        duplicates = sum(1 for f in fresh if not f)
        for event, new in zip(events, fresh, strict=True):
            if not new:
                log.info("event", outcome="duplicate", event_id=event.id, kind=event.kind)
        self._wake_events.set()
        return Accepted(accepted=len(events) - duplicates, duplicates=duplicates)

    async def _event_worker(self) -> None:
        assert self.runner is not None
        limit = asyncio.Semaphore(EVENT_CONCURRENCY)
        while not self._stopping:
            self._wake_events.clear()
            now = time.time()
            waiting = [i for i, (_, at) in self._event_attempts.items() if at > now]
            batch = await self.runner.run(
                db.pending_events, EVENT_CONCURRENCY * 4, [*self._inflight_events, *waiting]
            )
            if not batch:
                timeout = 5.0
                if waiting:
                    timeout = min(timeout, min(at for _, at in self._event_attempts.values()) - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_events.wait(), timeout=max(0.05, timeout))
                continue
            for event_id, payload in batch:
                await limit.acquire()
                self._inflight_events.add(event_id)
                task = asyncio.create_task(self._process(event_id, payload))
                self._event_tasks.add(task)
                task.add_done_callback(self._event_tasks.discard)
                task.add_done_callback(lambda _t, _id=event_id: self._event_done(_id, limit))

    def _event_done(self, event_id: str, limit: asyncio.Semaphore) -> None:
        self._inflight_events.discard(event_id)
        limit.release()
        self._wake_events.set()

    async def _process(self, event_id: str, payload: str) -> None:
        assert self.runner is not None and self.pipeline is not None
        try:
            event = PlaybackEvent.from_json(payload)
        except EventError as exc:
            log.warning("event", outcome="unreadable", event_id=event_id, error=str(exc))
            await self.runner.run(db.finish_event, event_id, "unreadable", time.time())
            return
        try:
            outcome = await self.pipeline.handle(event)
        except Exception:
            log.exception("event_crashed", event_id=event_id)
            outcome = "error"
        if outcome in RETRYABLE:
            attempts = self._event_attempts.get(event_id, (0, 0.0))[0] + 1
            if attempts < EVENT_ATTEMPTS:
                delay = min(60.0, 2.0**attempts)
                self._event_attempts[event_id] = (attempts, time.time() + delay)
                log.info("event_retry", event_id=event_id, attempt=attempts, retry_in_s=delay)
                return
        self._event_attempts.pop(event_id, None)
        await self.runner.run(db.finish_event, event_id, outcome, time.time())

    # -- status ------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        assert self.runner is not None and self.outbox is not None
        by_peer = await self.outbox.depth_by_peer()
        pending = await self.runner.run(db.count_pending_events)
        last = await self.runner.run(db.last_sync)
        if last and last.get("summary"):
            with contextlib.suppress(ValueError):
                last["summary"] = json.loads(last["summary"])
        users: set[str] = set()
        per_server: dict[str, int] = {}
        if self.users is not None:
            for server in self.servers:
                try:
                    found = self.users.users(server.name)
                    if asyncio.iscoroutine(found):
                        found = await found
                    per_server[server.name] = len(found)
                    users.update(str(u.id) for u in found)
                except Exception as exc:  # status must answer even when plex.tv does not
                    log.debug("status_users_failed", server=server.name, error=str(exc))
        return {
            "status": "ready" if self.ready.is_set() else "starting",
            "uptime_s": round(time.time() - self.started_at, 1),
            "servers": [
                {
                    "name": s.name,
                    "url": s.config.url,
                    "machine_identifier": s.machine_identifier,
                    "reachable": s.reachable,
                    "last_error": s.last_error,
                    "last_ok_at": s.last_ok_at,
                    "index_items": len(s.index) if s.index is not None else 0,
                    "index_built_at": getattr(s.index, "built_at", None),
                    "queued_writes": by_peer.get(s.name, 0),
                }
                for s in self.servers
            ],
            "users": {"known": len(users), "per_server": per_server},
            "queue": {
                "writes": sum(by_peer.values()),
                "events_pending": pending,
            },
            "events_handled": self.pipeline.events_handled if self.pipeline else 0,
            "writes_delivered": self.outbox.delivered,
            "writes_dropped": self.outbox.dropped,
            "last_sync": last,
        }


async def serve(
    config: Config, stop: asyncio.Event, on_ready: Callable[[Service], None] | None = None
) -> None:
    service = Service(config)
    await service.start()
    if on_ready is not None:
        on_ready(service)
    try:
        await stop.wait()
    finally:
        await service.stop()
