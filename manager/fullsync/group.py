"""Full sync, grouping: the same item across servers.

Items are the same when they share any identity key (`identity_keys`), taken
transitively, so a `plex://` item on one server meets an imdb-only legacy item on another
through a third that has both; episodes also meet by show id + SxxEyy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from manager.fullsync.read import Catalog
from manager.model import ItemKey
from manager.servers.identity import season_key


@dataclass(slots=True)
class Group:
    key: ItemKey  # the ledger / outbox key of the item
    kind: str
    title: str
    members: list[tuple[int, str]]  # (server index, item id)
    parent_keys: tuple[ItemKey, ...] = ()  # an episode's show and season keys


@dataclass
class Groups:
    groups: list[Group]
    by_key: dict[ItemKey, int]  # every identity key → group
    by_parent: dict[ItemKey, list[int]]  # show / season key → episode groups


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _parent_keys(catalog: Catalog, show_id: str | None, season: int | None) -> list[ItemKey]:
    show = catalog.shows.get(show_id or "")
    if show is None:
        return []
    out = list(show.keys)
    if season is not None:
        out += [season_key(k, season) for k in show.keys]
    return out


def build_groups(catalogs: Sequence[Catalog]) -> Groups:
    """Group every item of every (readable) catalogue by shared identity keys."""
    uf = _UnionFind()
    node_of_key: dict[ItemKey, int] = {}
    nodes: list[tuple[int, str]] = []
    for si, catalog in enumerate(catalogs):
        for rk, item in catalog.items.items():
            if not item.keys:
                continue
            node = uf.add()
            nodes.append((si, rk))
            for key in item.keys:
                other = node_of_key.setdefault(key, node)
                if other != node:
                    uf.union(node, other)
    root_group: dict[int, int] = {}
    groups: list[Group] = []
    firsts: list[Counter[ItemKey]] = []
    parents: list[set[ItemKey]] = []
    for node, (si, rk) in enumerate(nodes):
        root = uf.find(node)
        gi = root_group.get(root)
        item = catalogs[si].items[rk]
        if gi is None:
            gi = root_group[root] = len(groups)
            groups.append(Group(key=ItemKey(""), kind=item.kind, title=item.title, members=[]))
            firsts.append(Counter())
            parents.append(set())
        groups[gi].members.append((si, rk))
        firsts[gi][item.keys[0]] += 1
        if item.kind == "episode":
            parents[gi].update(_parent_keys(catalogs[si], item.show_id, item.season))
        item.group = gi
    by_key: dict[ItemKey, int] = {}
    by_parent: dict[ItemKey, list[int]] = {}
    for key, node in node_of_key.items():
        by_key[key] = root_group[uf.find(node)]
    for gi, group in enumerate(groups):
        # The most common best key; ties broken by name so every run picks the same one.
        group.key = min(firsts[gi].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        group.parent_keys = tuple(sorted(parents[gi]))
        for key in group.parent_keys:
            by_parent.setdefault(key, []).append(gi)
    for catalog in catalogs:  # keys are in the index now; the items need not keep them
        for item in catalog.items.values():
            item.keys = ()
    return Groups(groups, by_key, by_parent)
