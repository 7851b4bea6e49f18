"""Keeping an eye on the servers while `serve` runs.

Every few seconds: re-probe a server that is down (or has no index yet), every
`PROBE_INTERVAL` all of them; rebuild an index older than `INDEX_MAX_AGE`; bring a server
that was down at start into the user directory once its id is known. Events that had to
skip a server because its index could not be read mark it (`Server.catch_up_users`); once
it answers and its index is built, a full sync limited to writes on it and to those users
brings it up to date from the ledger ("catch-up"). Once an hour, old event ids are pruned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from manager.app.syncs import run_sync
from manager.logs import get_logger
from manager.model import UserId
from manager.runtime import Runtime
from manager.servers.server import Server
from manager.store import catch_up, inbox, lease

log = get_logger("manager.service")

PROBE_INTERVAL = 30.0
PROBE_INTERVAL_DOWN = 5.0  # while some server is down (or was down at start)
# Library indexes are rebuilt this often (seconds) so re-matched items get their new ids;
# a miss rebuilds sooner (LibraryIndex.find).
INDEX_MAX_AGE = 6 * 3600.0
EVENT_RETENTION = 7 * 24 * 3600.0
# A catch-up sync that could not finish (the peer failed again, a write was refused) is
# tried again after this many seconds, not on every probe tick.
CATCH_UP_RETRY = 60.0


class ServerWatch:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.catch_up_waiting = False  # a catch-up is due but another sync holds the lease
        self._catch_up: asyncio.Task[None] | None = None
        self._not_before: dict[str, float] = {}

    async def run(self) -> None:
        last_prune = 0.0
        last_full = time.monotonic()
        while True:
            # Short ticks: a server seen failing (by a probe or by a delivery) is re-probed
            # within seconds, so its queued writes go out as soon as it is back.
            await asyncio.sleep(PROBE_INTERVAL_DOWN)
            full = time.monotonic() - last_full >= PROBE_INTERVAL
            if full:
                last_full = time.monotonic()
            for server in self.runtime.servers:
                if full or not server.reachable or server.index.built_at is None:
                    await self._look_at(server)
            self._start_catch_up()
            if time.time() - last_prune > 3600:
                last_prune = time.time()
                pruned = await self.runtime.runner.run(
                    inbox.prune_events, time.time() - EVENT_RETENTION
                )
                if pruned:
                    log.info("events_pruned", count=pruned)

    async def stop(self) -> None:
        if self._catch_up is not None:
            self._catch_up.cancel()
            await asyncio.gather(self._catch_up, return_exceptions=True)

    async def _look_at(self, server: Server) -> None:
        known = server.server_id
        await self.runtime.probe(server)
        built = server.index.built_at
        if server.reachable and (built is None or time.time() - built > INDEX_MAX_AGE):
            await self.runtime.build_index(server)
        if server.reachable and not known and server.server_id:
            # A server that was down at start: the user directory needs its id.
            self.runtime.directory.update_server(server)
            await self.runtime.refresh_users()

    # -- catching up a server that events had to skip --------------------------------------
    def _start_catch_up(self) -> None:
        """One catch-up at a time, for a marked server that answers and has its index."""
        if self._catch_up is not None and not self._catch_up.done():
            return
        now = time.monotonic()
        for server in self.runtime.servers:
            if (
                server.catch_up_users
                and server.reachable
                and server.index.built_at is not None
                and now >= self._not_before.get(server.name, 0.0)
            ):
                self._catch_up = asyncio.create_task(
                    self._run_catch_up(server), name=f"catch-up-{server.name}"
                )
                return

    async def _run_catch_up(self, server: Server) -> None:
        holder = await self.runtime.runner.run(lease.holder)
        if holder is not None:
            # Another sync (scheduled, CLI) is running: the next probe tick tries again.
            if not self.catch_up_waiting:
                log.info("catch_up_waiting", server=server.name, sync_running=holder)
            self.catch_up_waiting = True
            return
        self.catch_up_waiting = False
        user_ids = sorted(server.catch_up_users)
        names = self._names(user_ids)
        log.info("catch_up_started", server=server.name, users=names)
        report = await run_sync(self.runtime, "catch_up", servers=(server.name,), users=user_ids)
        if report is None:
            return  # another sync took the lease first: the next tick tries again
        summary = report.server(server.name)
        done = report.error is None and not summary.failed
        if done:
            server.catch_up_users.difference_update(user_ids)
            await self.runtime.runner.run(catch_up.done, server.name, user_ids)
        else:
            self._not_before[server.name] = time.monotonic() + CATCH_UP_RETRY
        took = (report.finished_at or time.time()) - report.started_at
        log.info(
            "catch_up_finished",
            server=server.name,
            ok=done,
            users=names,
            seconds=round(took, 2),
            watched=summary.watched,
            unwatched=summary.unwatched,
            resume=summary.resume,
            failed=summary.failed,
            error=report.error or "; ".join(summary.errors[:3]) or None,
            retry_in_s=None if done else CATCH_UP_RETRY,
        )

    def _names(self, user_ids: Sequence[UserId]) -> str:
        users = [self.runtime.directory.user(u) for u in user_ids]
        return ",".join(
            u.name if u is not None else uid for u, uid in zip(users, user_ids, strict=True)
        )
