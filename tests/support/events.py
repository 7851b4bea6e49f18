"""Playback events as a proxy in front of an emulated server would send them."""

from __future__ import annotations

from typing import Any

from manager.event import PlaybackEvent
from tests.fakeplex import Cluster


def event_for(
    cluster: Cluster,
    user: str,
    catalog: str,
    server: str = "alpha",
    kind: str = "scrobble",
    **fields: Any,
) -> PlaybackEvent:
    """`user`'s request about the `catalog` item on `server`, as its proxy reports it."""
    srv = cluster.servers[server]
    return PlaybackEvent(
        kind=kind,
        rating_key=srv.find_key(catalog=catalog),
        token=cluster.token_for(user, server),
        upstream_url=srv.url,
        machine_identifier=srv.machine_identifier,
        **fields,
    )
