"""Reading a user's state on an emulated server, the way every test reads it.

Items are named either by the fixture's catalog key (`catalog="matrix"`) or by title.
"""

from __future__ import annotations

from typing import Any

from tests.fakeplex import Cluster


def raw_state(
    cluster: Cluster,
    server: str,
    user: str,
    *,
    catalog: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The emulator's own record: view_count, view_offset, last_viewed_at (and for shows
    leaf_count, viewed_leaf_count)."""
    srv = cluster.servers[server]
    key = srv.find_key(catalog=catalog) if catalog is not None else srv.find_key(title=title)
    return dict(srv.state(user, key))


def seen(
    cluster: Cluster,
    server: str,
    user: str,
    *,
    catalog: str | None = None,
    title: str | None = None,
) -> tuple[bool, int]:
    """(watched, resume point ms) as the user sees it; a show is watched when every
    episode is."""
    st = raw_state(cluster, server, user, catalog=catalog, title=title)
    if "leaf_count" in st:
        return st["viewed_leaf_count"] == st["leaf_count"], 0
    return st["view_count"] > 0, st["view_offset"]


def played(cluster: Cluster, server: str, user: str, catalog: str) -> bool:
    return seen(cluster, server, user, catalog=catalog)[0]
