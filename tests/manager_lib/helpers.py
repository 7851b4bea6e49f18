"""Small builders shared by the peer-library tests (no test doubles: real clients)."""

from __future__ import annotations

import httpx

from manager.plex import PlexServerClient, PlexTvClient
from manager.users import ServerRef, UserDirectory
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


def directory(
    cluster: Cluster, http: httpx.AsyncClient, **kwargs: object
) -> tuple[UserDirectory, PlexTvClient, dict[str, PlexServerClient]]:
    plextv = plextv_client(cluster, http)
    clients = server_clients(cluster, http)
    refs = [
        ServerRef(name, srv.machine_identifier, srv.owner_token, clients[name])
        for name, srv in cluster.servers.items()
    ]
    return UserDirectory(plextv, refs, **kwargs), plextv, clients  # type: ignore[arg-type]
