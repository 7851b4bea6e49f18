"""Small builders shared by the peer-library tests (no test doubles: real clients)."""

from __future__ import annotations

import httpx

from manager.config import ServerConfig
from manager.servers.index import LibraryIndex
from manager.servers.models import Credential
from manager.servers.plex.client import PlexServerClient
from manager.servers.plex.plextv import PlexTvClient
from manager.servers.plex.server import PlexMediaServer
from manager.servers.plex.users import PlexUserDirectory
from manager.servers.server import Server
from tests.fakeplex import Cluster

CLIENT_ID = "plex-cluster-tests-lib"


def server_clients(
    cluster: Cluster, http: httpx.AsyncClient, **kwargs: object
) -> dict[str, PlexServerClient]:
    return {
        name: PlexServerClient(srv.url, http, CLIENT_ID, name=name, **kwargs)  # type: ignore[arg-type]
        for name, srv in cluster.servers.items()
    }


def plextv_client(cluster: Cluster, http: httpx.AsyncClient) -> PlexTvClient:
    # Small backoff so that 429 tests stay quick; the behaviour is the same.
    return PlexTvClient(cluster.plextv_url, http, CLIENT_ID, backoff_base=0.01, backoff_max=0.05)


def server(name: str, client: PlexServerClient, token: str, server_id: str | None) -> Server:
    """A configured server as the runtime holds it, with its id already learned."""
    api = PlexMediaServer(client)
    config = ServerConfig(name=name, url=client.base_url, token=token)
    return Server(config, api, LibraryIndex(api, Credential(token)), server_id=server_id or None)


def directory(
    cluster: Cluster, http: httpx.AsyncClient, **kwargs: object
) -> tuple[PlexUserDirectory, PlexTvClient, dict[str, PlexServerClient]]:
    plextv = plextv_client(cluster, http)
    clients = server_clients(cluster, http)
    servers = [
        server(name, clients[name], srv.owner_token, srv.machine_identifier)
        for name, srv in cluster.servers.items()
    ]
    return PlexUserDirectory(plextv, servers, **kwargs), plextv, clients  # type: ignore[arg-type]
