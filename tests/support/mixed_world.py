"""The mixed end-to-end world: one Plex, one Jellyfin and one Emby server (the emulator's
`mixed` fixture), a mitmdump + addon in front of each, the manager as a subprocess, and
each kind's real client talking through its proxy: python-plexapi, jellyfin-apiclient-python
and embyclient."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emby_client
from jellyfin_apiclient_python import JellyfinClient
from plexapi.server import PlexServer

from tests.fakeplex import Cluster, start_cluster
from tests.support.live_cluster import ManagerProcess, manager_and_proxies
from tests.support.polling import wait_for
from tests.support.processes import MitmdumpProcess

# alice goes by "Alice Liddell" on Jellyfin: the config says so (names never guessed).
USER_MAP = {"alice": {"jelly": "Alice Liddell"}}
MIN_TICKS = 60 * 10_000_000  # a minute in Jellyfin's ticks
# Each server of the mixed world and the others, where its changes must arrive.
PEERS = {"plex": ("jelly", "emby"), "jelly": ("plex", "emby"), "emby": ("plex", "jelly")}


@dataclass
class MixedWorld:
    cluster: Cluster
    manager: ManagerProcess
    proxies: dict[str, MitmdumpProcess]
    _jellyfin: list[JellyfinClient] = field(default_factory=list)

    def url(self, server: str, via_proxy: bool) -> str:
        return self.proxies[server].url if via_proxy else self.cluster.servers[server].url

    def plex(self, user: str, via_proxy: bool = True) -> PlexServer:
        """python-plexapi on the Plex server, through its proxy (or straight to it)."""
        return PlexServer(self.url("plex", via_proxy), self.cluster.token_for(user, "plex"))

    def jellyfin(self, user: str, via_proxy: bool = True) -> JellyfinClient:
        """jellyfin-apiclient-python logged in on Jellyfin as `user`, through its proxy (or
        straight to it)."""
        for name in ("JELLYFIN", "Jellyfin"):  # it logs every request and session
            logging.getLogger(name).setLevel(logging.WARNING)
        server = self.cluster.jellyfin("jelly")
        client = JellyfinClient()
        client.config.app("plex-cluster-e2e", "1.0", f"{user}-box", f"e2e-{user}")
        client.config.data["auth.ssl"] = False
        url = self.url("jelly", via_proxy)
        client.auth.connect_to_address(url)
        assert client.auth.login(url, server.display_names[user], server.passwords[user])
        client.logged_in = True
        client.start()
        self._jellyfin.append(client)
        return client

    def emby(self, user: str, via_proxy: bool = True) -> Any:
        """embyclient's playstate API on Emby as `user` (their token), through its proxy (or
        straight to it)."""
        cfg = emby_client.Configuration()
        cfg.host = self.url("emby", via_proxy) + "/emby"
        cfg.api_key["api_key"] = self.cluster.jellyfin("emby").user_tokens[user]
        return emby_client.PlaystateServiceApi(emby_client.ApiClient(cfg))

    def item(self, server: str, key: str) -> str:
        return self.cluster.item_id(server, key)

    def state(self, server: str, user: str, key: str) -> dict[str, Any]:
        return self.cluster.state(server, user, key)

    def wait_state(self, server: str, user: str, key: str, **want: object) -> None:
        """Until that user's state of that title on that server has the wanted fields."""

        def holds() -> bool:
            state = self.state(server, user, key)
            return all(state[k] == v for k, v in want.items())

        wait_for(holds, what=f"{user} {key} on {server}: {want}")

    def close(self) -> None:
        for client in self._jellyfin:
            client.stop()


@contextmanager
def running_mixed_world(workdir: Path) -> Iterator[MixedWorld]:
    with (
        start_cluster("mixed") as cluster,
        manager_and_proxies(cluster, workdir, users=USER_MAP) as (manager, proxies),
    ):
        world = MixedWorld(cluster, manager, proxies)
        try:
            yield world
        finally:
            world.close()
