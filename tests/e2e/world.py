"""The end-to-end world: an emulated cluster, a proxy in front of each server and the
manager as a subprocess, with helpers to act as a user through python-plexapi."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plexapi.server import PlexServer

from manager.event import PlaybackEvent
from tests.fakeplex import Cluster, start_cluster
from tests.support.live_cluster import ManagerProcess, manager_and_proxies
from tests.support.processes import MitmdumpProcess
from tests.support.state import raw_state


@dataclass
class World:
    cluster: Cluster
    manager: ManagerProcess
    proxies: dict[str, MitmdumpProcess]

    def plex(self, user: str, server: str = "alpha") -> PlexServer:
        """python-plexapi talking to `server` through its proxy, as `user`."""
        return PlexServer(self.proxies[server].url, self.cluster.token_for(user, server))

    def key(self, server: str, catalog: str) -> str:
        return self.cluster.servers[server].find_key(catalog=catalog)

    def state(self, server: str, user: str, catalog: str) -> dict[str, int]:
        return raw_state(self.cluster, server, user, catalog=catalog)

    def event(self, user: str, catalog: str, server: str = "alpha", **kw: object) -> PlaybackEvent:
        srv = self.cluster.servers[server]
        return PlaybackEvent(
            rating_key=srv.find_key(catalog=catalog),
            token=self.cluster.token_for(user, server),
            upstream_url=srv.url,
            machine_identifier=srv.machine_identifier,
            **kw,  # type: ignore[arg-type]
        )

    def event_done(self, event_id: str) -> dict[str, object]:
        lines = self.manager.log_lines("event", event_id=event_id)
        return lines[-1] if lines else {}


@contextmanager
def running_world(workdir: Path, *, manager_via_proxies: bool = False) -> Iterator[World]:
    """The demo cluster with its proxies and manager, torn down on exit."""
    with (
        start_cluster("demo") as cluster,
        manager_and_proxies(cluster, workdir, manager_via_proxies=manager_via_proxies) as (
            manager,
            proxies,
        ),
    ):
        yield World(cluster, manager, proxies)
