"""Talking to Plex Media Servers and plex.tv (async, on a shared httpx.AsyncClient)."""

from manager.plex.errors import (
    BadRequest,
    NotFound,
    PlexError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unreachable,
)
from manager.plex.models import (
    TYPE_CODES,
    TYPE_EPISODE,
    TYPE_MOVIE,
    TYPE_SEASON,
    TYPE_SHOW,
    HomeUser,
    PlexAccount,
    PlexItem,
    PlexTvUser,
    Resource,
    Section,
    ServerIdentity,
    Session,
    SharedServer,
)
from manager.plex.plextv import PlexTvClient
from manager.plex.server_client import PlexServerClient

__all__ = [
    "TYPE_CODES",
    "TYPE_EPISODE",
    "TYPE_MOVIE",
    "TYPE_SEASON",
    "TYPE_SHOW",
    "BadRequest",
    "HomeUser",
    "NotFound",
    "PlexAccount",
    "PlexError",
    "PlexItem",
    "PlexServerClient",
    "PlexTvClient",
    "PlexTvUser",
    "RateLimited",
    "Resource",
    "Section",
    "ServerError",
    "ServerIdentity",
    "Session",
    "SharedServer",
    "Unauthorized",
    "Unreachable",
]
