"""How the runtime builds Jellyfin's and Emby's parts (being built: issue 11)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import httpx

from manager.config import Config, ServerConfig
from manager.servers.server import Server


def media_server(
    config: ServerConfig, http: httpx.AsyncClient, client_id: str, **_: object
) -> NoReturn:
    raise ValueError(f"server {config.name}: kind {config.kind!r} is not supported yet")


def directory(
    servers: Sequence[Server], http: httpx.AsyncClient, client_id: str, config: Config
) -> NoReturn:
    raise ValueError("Jellyfin and Emby servers are not supported yet")
