"""Full sync, grouping: the same item across servers.

Items are the same when they share any identity key (`identity_keys`), taken
transitively, so a `plex://` item on one server meets an imdb-only legacy item on another
through a third that has both; episodes also meet by show id + SxxEyy.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from manager.fullsync.catalog import Catalog
from manager.model import ItemKey
from manager.servers.identity import season_key


@dataclass(slots=True)
class Group:
    key: ItemKey  # the ledger / outbox key of the item
    kind: str
    title: str
    # (server index, item id) of each member, flattened into one tuple: a list of pairs
    # took three times the memory, one group per item of the library.
    flat: tuple[int | str, ...] = ()

    @property
    def members(self) -> list[tuple[int, str]]:
        """(server index, item id) of each member, in the catalogues' order."""
        servers = cast(tuple[int, ...], self.flat[::2])
        ids = cast(tuple[str, ...], self.flat[1::2])
        return list(zip(servers, ids, strict=True))


@dataclass
class Groups:
    groups: list[Group]
    by_key: dict[ItemKey, int]  # every identity key → group
    by_parent: dict[ItemKey, list[int]]  # show / season key → episode groups


def _find(parent: array[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _parent_keys(catalog: Catalog, show_id: str | None, season: int | None) -> list[ItemKey]:
    show = catalog.shows.get(show_id or "")
    if show is None:
        return []
    out = list(show.keys)
    if season is not None:
        out += [season_key(k, season) for k in show.keys]
    return out


def _best_key(group: Group, catalogs: Sequence[Catalog]) -> ItemKey:
    """The members' most common best key; ties broken by name so every run picks the
    same one."""
    firsts = Counter(catalogs[si].items[rk].keys[0] for si, rk in group.members)
    return min(firsts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _fill_members(catalogs: Sequence[Catalog], groups: list[Group], sizes: array[int]) -> None:
    """Each group's members, in the catalogues' order: one flat list of every member
    (each group's run at its offset), cut into each group's tuple."""
    starts = array("q", bytes(8 * len(groups)))
    total = 0
    for gi, size in enumerate(sizes):
        starts[gi] = total
        total += 2 * size
    flat: list[int | str] = [0] * total
    for si, catalog in enumerate(catalogs):
        for rk, item in catalog.items.items():
            if item.keys:
                at = starts[item.group]
                flat[at], flat[at + 1] = si, rk
                starts[item.group] = at + 2
    start = 0
    for group, size in zip(groups, sizes, strict=True):
        group.flat = tuple(flat[start : start + 2 * size])
        start += 2 * size


def build_groups(catalogs: Sequence[Catalog]) -> Groups:
    """Group every item of every (readable) catalogue by shared identity keys.

    At 100 000 items per server this is the run's peak of memory, so it keeps no per-node
    or per-group scratch beyond the result: nodes are numbered in the catalogues' order
    (walked twice), the union-find is an array of machine ints, the key → node index
    becomes the key → group index in place, and each group's key and parent keys are
    worked out from its few members one group at a time.
    """
    parent = array("q")
    node_of_key: dict[ItemKey, int] = {}
    for catalog in catalogs:
        for item in catalog.items.values():
            if not item.keys:
                continue
            node = len(parent)
            parent.append(node)
            for key in item.keys:
                other = node_of_key.setdefault(key, node)
                if other != node:
                    ra, rb = _find(parent, node), _find(parent, other)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    # Group index per root node, set when the root is met: a root is the smallest node of
    # its set, so groups come out in the order of their first member. A list, not an
    # array: every item and key of a group then shares one int object for its index.
    root_group = [0] * len(parent)
    groups: list[Group] = []
    sizes = array("q")  # members per group
    node = 0
    for catalog in catalogs:
        for item in catalog.items.values():
            if not item.keys:
                continue
            root = _find(parent, node)
            node += 1
            if root == node - 1:
                root_group[root] = len(groups)
                groups.append(Group(key=ItemKey(""), kind=item.kind, title=item.title))
                sizes.append(0)
            gi = item.group = root_group[root]
            sizes[gi] += 1
    by_key = node_of_key  # the same keys: reused, not copied (it is the largest index)
    for key, n in node_of_key.items():
        by_key[key] = root_group[_find(parent, n)]
    del parent, root_group
    _fill_members(catalogs, groups, sizes)
    by_parent: dict[ItemKey, list[int]] = {}
    for gi, group in enumerate(groups):
        group.key = _best_key(group, catalogs)
        parents: set[ItemKey] = set()
        for si, rk in group.members:
            item = catalogs[si].items[rk]
            if item.kind == "episode":
                parents.update(_parent_keys(catalogs[si], item.show_id, item.season))
        for key in sorted(parents):
            by_parent.setdefault(key, []).append(gi)
    for catalog in catalogs:  # keys are in the index now; the items need not keep them
        for item in catalog.items.values():
            item.keys = ()
    return Groups(groups, by_key, by_parent)
