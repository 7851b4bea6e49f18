"""Builders shared by the Jellyfin/Emby tests: our real clients on the emulated servers."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from manager.config import ServerConfig, UserMapping
from manager.event import REPLAY_HEADER
from manager.servers.index import LibraryIndex
from manager.servers.jellyfin.dialect import CLIENT
from manager.servers.jellyfin.server import JellyfinMediaServer
from manager.servers.jellyfin.users import JellyfinUserDirectory
from manager.servers.models import Credential
from manager.servers.server import Server
from tests.fakeplex import Cluster

CLIENT_ID = "plex-cluster-tests-jf"
DIALECT_SERVERS = ("jelly", "emby")  # the mixed world's Jellyfin and Emby servers


def api(
    cluster: Cluster, name: str, http: httpx.AsyncClient, **kwargs: object
) -> JellyfinMediaServer:
    srv = cluster.jellyfin(name)
    return JellyfinMediaServer.connect(
        srv.url,
        http,
        CLIENT_ID,
        name=name,
        dialect=srv.dialect,
        **kwargs,  # type: ignore[arg-type]
    )


def admin(cluster: Cluster, name: str) -> Credential:
    return Credential(cluster.api_key(name))


def for_user(cluster: Cluster, name: str, account: str) -> Credential:
    return Credential(cluster.api_key(name), user=cluster.user_id(account, name))


def server(cluster: Cluster, name: str, http: httpx.AsyncClient) -> Server:
    """A configured server as the runtime holds it."""
    srv = cluster.jellyfin(name)
    media = api(cluster, name, http)
    config = ServerConfig(name=name, url=srv.url, token=srv.api_key, kind=srv.dialect)
    return Server(config, media, LibraryIndex(media, Credential(srv.api_key)), srv.server_id)


def directory(
    cluster: Cluster,
    http: httpx.AsyncClient,
    names: Sequence[str] = DIALECT_SERVERS,
    user_map: Sequence[UserMapping] = (),
    **kwargs: float,
) -> JellyfinUserDirectory:
    servers = [server(cluster, n, http) for n in names]
    return JellyfinUserDirectory(servers, user_map, **kwargs)


def header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def ours(headers: dict[str, str]) -> bool:
    """Whether a recorded request carries our replay marker and client name."""
    auth = header(headers, "Authorization") + header(headers, "X-Emby-Authorization")
    return header(headers, REPLAY_HEADER) == "1" and f'Client="{CLIENT}"' in auth


async def play(
    cluster: Cluster,
    name: str,
    account: str,
    item_id: str,
    device: str,
    *,
    position_ms: int = 0,
    paused: bool = False,
) -> None:
    """What a user's player sends: a playback start (and a paused progress report), with
    that user's own access token, as a plain HTTP client."""
    srv = cluster.jellyfin(name)
    token = srv.token_for(account)
    info = f'MediaBrowser Client="Test Player", Device="{device}", DeviceId="{device}", Version="1"'
    headers = (
        {"X-Emby-Token": token, "X-Emby-Authorization": info}
        if srv.dialect == "emby"
        else {"Authorization": f'{info}, Token="{token}"'}
    )
    body = {"ItemId": item_id, "PositionTicks": position_ms * 10_000, "IsPaused": paused}
    async with httpx.AsyncClient(base_url=srv.url, headers=headers) as http:
        (await http.post("/Sessions/Playing", json=body)).raise_for_status()
        if paused:
            (await http.post("/Sessions/Playing/Progress", json=body)).raise_for_status()
