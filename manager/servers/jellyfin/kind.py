"""How the runtime builds Jellyfin's and Emby's parts (the config's kind is the dialect)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from manager.config import Config, ServerConfig
from manager.servers.jellyfin.server import JellyfinMediaServer
from manager.servers.jellyfin.users import JellyfinUserDirectory
from manager.servers.server import Server


def media_server(
    config: ServerConfig,
    http: httpx.AsyncClient,
    client_id: str,
    *,
    max_concurrency: int = 4,
    interactive_concurrency: int = 4,
    timeout: float | None = 30.0,
) -> JellyfinMediaServer:
    return JellyfinMediaServer.connect(
        config.url,
        http,
        client_id,
        name=config.name,
        dialect=config.kind,
        max_concurrency=max_concurrency,
        interactive_concurrency=interactive_concurrency,
        timeout=timeout,
    )


def directory(
    servers: Sequence[Server], http: httpx.AsyncClient, client_id: str, config: Config
) -> JellyfinUserDirectory:
    """One directory for every Jellyfin and Emby server of the cluster: each server's own
    user list, people matched across them by the config's user map, then by name. It talks
    to each server through that server's own client (and pacing): `http` and `client_id`
    are already in them."""
    return JellyfinUserDirectory(servers, config.user_map)
