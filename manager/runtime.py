"""The manager's parts, built once from the config and shared by `serve`, `sync` and the
catch-up alike: config → database → servers → user directory → library indexes → outbox.

Everything exists from the start; what a server tells about itself (its id, whether it
answers) fills in as it is probed, so no part ever has to check for a missing one.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from manager import heap
from manager.config import Config
from manager.fullsync.engine import FullSync, SyncOptions
from manager.fullsync.report import Progress
from manager.logs import get_logger
from manager.realtime.handler import RealtimeHandler
from manager.realtime.writer import PeerWriter
from manager.servers import kinds
from manager.servers.errors import MediaServerError
from manager.servers.index import LibraryIndex
from manager.servers.interface import MediaServer, UserDirectory
from manager.servers.models import Credential
from manager.servers.pools import server_client
from manager.servers.server import Server
from manager.store import catch_up, db
from manager.store.outbox import Outbox
from manager.store.runner import DbRunner

log = get_logger("manager.runtime")


def _client(config: Config, tls: ssl.SSLContext) -> httpx.AsyncClient:
    return server_client(config.delivery.timeout, tls)


class Runtime:
    def __init__(self, config: Config, runner: DbRunner, client_id: str) -> None:
        self.config = config
        self.runner = runner
        self.client_id = client_id
        # plex.tv and the like. Each server has its own pools, one for writes and single
        # reads (`_pools`), one for a full sync's pages (`_page_pools`), so that neither
        # waits for a connection the other holds.
        # One TLS context for them all, as httpx would make each (certifi's roots, or
        # SSL_CERT_FILE / SSL_CERT_DIR): loading the roots costs ~20 ms a client, and a
        # full sync opens a runtime per run.
        tls = httpx.create_ssl_context()
        self.http = _client(config, tls)
        self._pools = {cfg.name: _client(config, tls) for cfg in config.servers}
        self._page_pools = {cfg.name: _client(config, tls) for cfg in config.servers}
        self.servers: list[Server] = []
        for cfg in config.servers:
            # Writes and single reads: at most as many in flight as the outbox delivers.
            api = kinds.media_server(
                cfg,
                self._pools[cfg.name],
                client_id,
                interactive_concurrency=config.delivery.per_peer,
                timeout=config.delivery.timeout,
            )
            self.servers.append(Server(cfg, api, LibraryIndex(api, Credential(cfg.token))))
        self.directory: UserDirectory = kinds.directory(self.servers, self.http, client_id, config)
        self.writer = PeerWriter(self.servers, self.directory, runner)
        self.outbox = Outbox(runner, self.writer.deliver, config.delivery)
        self.handler = RealtimeHandler(config, self.servers, self.directory, runner, self.outbox)

    @classmethod
    async def open(cls, config: Config) -> Runtime:
        """Open the database (on its own thread) and build every part."""
        heap.map_large_blocks()  # before a full sync's tables: see heap.py
        loop = asyncio.get_running_loop()
        runner = await loop.run_in_executor(None, DbRunner, config.database)
        try:
            client_id = await runner.run(db.client_identifier)
            owed = await runner.run(catch_up.pending)
        except BaseException:
            runner.close()
            raise
        runtime = cls(config, runner, client_id)
        for server in runtime.servers:
            # Catch-ups owed from before a restart (a server no longer configured is dropped).
            server.catch_up_users.update(owed.get(server.name, ()))
        return runtime

    async def close(self) -> None:
        await self.outbox.stop()
        for http in (self.http, *self._pools.values(), *self._page_pools.values()):
            await http.aclose()
        self.runner.close()

    def server(self, name: str) -> Server | None:
        return next((s for s in self.servers if s.name == name), None)

    # -- learning about servers --------------------------------------------------------
    async def probe(self, server: Server) -> None:
        """Ask a server who it is; note whether it answers. A server that answers again
        gets its queued writes retried at once."""
        try:
            ident = await server.api.identify()
        except MediaServerError as exc:
            if server.reachable is not False:
                log.warning("server_unreachable", server=server.name, error=str(exc))
            server.mark(False, str(exc))
            return
        if server.server_id and server.server_id != ident.id:
            log.warning(
                "server_identity_changed", server=server.name, old=server.server_id, new=ident.id
            )
        was_down = server.reachable is False
        server.server_id = ident.id
        server.friendly_name, server.version = ident.name, ident.version
        server.mark(True)
        if was_down:
            retried = await self.outbox.peer_recovered(server.name)
            log.info("server_back", server=server.name, queued_writes_retried=retried)

    async def build_index(self, server: Server) -> None:
        try:
            await server.index.refresh()
        except MediaServerError as exc:
            log.warning("index_build_failed", server=server.name, error=str(exc))

    async def refresh_users(self, why: str = "users_refresh_failed") -> None:
        """Reload the user directory; a failure is one warning line (the old one stays)."""
        try:
            await self.directory.refresh()
        except MediaServerError as exc:
            log.warning(why, error=str(exc))

    async def warm_up(self, *, indexes: bool = True) -> None:
        """Probe every server, load the user directory, build the indexes of those up."""
        await asyncio.gather(*(self.probe(s) for s in self.servers))
        await self.refresh_users()
        if indexes:
            await asyncio.gather(*(self.build_index(s) for s in self.servers if s.reachable))

    # -- full syncs --------------------------------------------------------------------
    def readers(self, concurrency: int) -> list[MediaServer]:
        """Clients for a full sync's page reads, bounded apart from real-time traffic."""
        timeout = max(30.0, self.config.delivery.timeout)
        return [
            kinds.media_server(
                s.config,
                self._page_pools[s.name],
                self.client_id,
                max_concurrency=concurrency,
                timeout=timeout,
            )
            for s in self.servers
        ]

    def full_sync(
        self, options: SyncOptions, progress: Progress | None = None, *, writes: bool = True
    ) -> FullSync:
        return FullSync(
            self.config,
            self.runner,
            self.servers,
            self.directory,
            self.outbox if writes else None,
            self.readers(options.concurrency),
            options,
            progress,
        )
