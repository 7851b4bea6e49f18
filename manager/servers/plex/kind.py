"""How the runtime builds Plex's parts for the configured Plex servers."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from manager.config import Config, ServerConfig
from manager.servers.plex.plextv import PlexTvClient
from manager.servers.plex.server import PlexMediaServer
from manager.servers.plex.users import PlexUserDirectory
from manager.servers.server import Server


def media_server(
    config: ServerConfig,
    http: httpx.AsyncClient,
    client_id: str,
    *,
    max_concurrency: int = 4,
    interactive_concurrency: int = 4,
    timeout: float | None = 30.0,
) -> PlexMediaServer:
    return PlexMediaServer.connect(
        config.url,
        http,
        client_id,
        name=config.name,
        max_concurrency=max_concurrency,
        interactive_concurrency=interactive_concurrency,
        timeout=timeout,
    )


def directory(
    servers: Sequence[Server], http: httpx.AsyncClient, client_id: str, config: Config
) -> PlexUserDirectory:
    """One directory for every Plex server: plex.tv knows each owner's servers and users."""
    return PlexUserDirectory(PlexTvClient(config.plextv_url, http, client_id), servers)
