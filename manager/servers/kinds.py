"""The kinds of media server the cluster can talk to, and how to build each one's parts.

A new kind adds its folder beside `plex/` with a `kind.py` offering the same two builders,
and one line here.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import httpx

from manager.config import KINDS, Config, ServerConfig
from manager.servers.interface import MediaServer, UserDirectory
from manager.servers.jellyfin import kind as jellyfin
from manager.servers.people import CrossKindDirectory, Part
from manager.servers.plex import kind as plex
from manager.servers.server import Server

_BUILDERS: dict[str, ModuleType] = {"plex": plex, "jellyfin": jellyfin, "emby": jellyfin}
assert set(_BUILDERS) == set(KINDS), "every kind the config accepts must be buildable"


def media_server(
    config: ServerConfig,
    http: httpx.AsyncClient,
    client_id: str,
    *,
    max_concurrency: int = 4,
    interactive_concurrency: int = 4,
    timeout: float | None = 30.0,
) -> MediaServer:
    return _BUILDERS[config.kind].media_server(
        config,
        http,
        client_id,
        max_concurrency=max_concurrency,
        interactive_concurrency=interactive_concurrency,
        timeout=timeout,
    )


def directory(
    servers: Sequence[Server], http: httpx.AsyncClient, client_id: str, config: Config
) -> UserDirectory:
    """Each kind's directory over its servers (Jellyfin and Emby share one); several kinds
    are joined into people by `servers/people.py`."""
    groups: dict[ModuleType, list[Server]] = {}
    for server in servers:
        groups.setdefault(_BUILDERS[server.config.kind], []).append(server)
    parts = [
        Part(builder.directory(group, http, client_id, config), _kinds_of(group))
        for builder, group in groups.items()
    ]
    if len(parts) == 1:
        return parts[0].directory
    return CrossKindDirectory(parts, config.user_map)


def _kinds_of(group: Sequence[Server]) -> dict[str, str]:
    return {s.name: s.config.kind for s in group}
