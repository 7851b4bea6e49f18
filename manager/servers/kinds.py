"""The kinds of media server the cluster can talk to, how to build each one's parts, and
which parser reads each one's webhooks.

A new kind adds its folder beside `plex/` with a `kind.py` offering the same two builders,
and one line here (and one in `_WEBHOOKS` if it sends webhooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import httpx

from manager.config import KINDS, Config, ServerConfig
from manager.servers.interface import MediaServer, UserDirectory
from manager.servers.jellyfin import emby_webhook
from manager.servers.jellyfin import kind as jellyfin
from manager.servers.jellyfin import webhook as jellyfin_webhook
from manager.servers.people import CrossKindDirectory, Part
from manager.servers.plex import kind as plex
from manager.servers.plex import webhook as plex_webhook
from manager.servers.server import Server
from manager.servers.webhooks import Parser

_BUILDERS: dict[str, ModuleType] = {"plex": plex, "jellyfin": jellyfin, "emby": jellyfin}
assert set(_BUILDERS) == set(KINDS), "every kind the config accepts must be buildable"
_WEBHOOKS: dict[str, Parser] = {
    "plex": plex_webhook.parse,
    "jellyfin": jellyfin_webhook.parse,
    "emby": emby_webhook.parse,
}


def webhook_parser(kind: str) -> Parser:
    """The parser of that kind's webhooks (KeyError for a kind that sends none)."""
    return _WEBHOOKS[kind]


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
