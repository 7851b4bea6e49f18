"""Full sync, planning: the same item across servers, and what to write for one user.

Grouping: items are the same when they share any identity key (`guids.identity_keys`),
taken transitively, so a `plex://` item on one server meets an imdb-only legacy item on
another through a third that has both; episodes also meet by show id + SxxEyy.

Deciding: per group, the user's state on every server that has the item and the ledger's
newest entry for it (by any of its keys, or its show's or season's, since show-level
scrobbles are recorded under the show) go through `reconcile`. A whole show (or season)
that ends up watched on a server by two or more scrobbles becomes one show-level
(season-level) scrobble.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from manager import ledger as ledger_mod
from manager.reconcile import (
    LEDGER,
    OFFSET_TOLERANCE_MS,
    Action,
    LedgerState,
    ServerState,
    Target,
    reconcile,
)
from manager.sync_reader import MIN_RESUME_MS, ServerCatalog, UserState

ONLY_ACTIONS = {
    "watched": frozenset({"scrobble", "unscrobble"}),
    "progress": frozenset({"resume"}),
}


@dataclass(slots=True)
class Group:
    key: str  # the ledger / outbox key of the item
    kind: str
    title: str
    members: list[tuple[int, str]]  # (server index, rating key)
    parent_keys: tuple[str, ...] = ()  # an episode's show and season keys


@dataclass
class Groups:
    groups: list[Group]
    by_key: dict[str, int]  # every identity key → group
    by_parent: dict[str, list[int]]  # show / season key → episode groups


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


def _parent_keys(catalog: ServerCatalog, item_show: str | None, season: int | None) -> list[str]:
    show = catalog.shows.get(item_show or "")
    if show is None:
        return []
    ids = [k.partition(":")[2] for k in show.keys]
    out = list(show.keys)
    if season is not None:
        out += [f"season:{i}/s{season}" for i in ids]
    return out


def build_groups(catalogs: Sequence[ServerCatalog]) -> Groups:
    """Group every item of every (readable) catalogue by shared identity keys."""
    uf = _UnionFind()
    node_of_key: dict[str, int] = {}
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
    firsts: list[Counter[str]] = []
    parents: list[set[str]] = []
    for node, (si, rk) in enumerate(nodes):
        root = uf.find(node)
        gi = root_group.get(root)
        item = catalogs[si].items[rk]
        if gi is None:
            gi = root_group[root] = len(groups)
            groups.append(Group(key="", kind=item.kind, title=item.title, members=[]))
            firsts.append(Counter())
            parents.append(set())
        groups[gi].members.append((si, rk))
        firsts[gi][item.keys[0]] += 1
        if item.kind == "episode":
            parents[gi].update(_parent_keys(catalogs[si], item.show_rk, item.season))
        item.group = gi
    by_key: dict[str, int] = {}
    by_parent: dict[str, list[int]] = {}
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


def ledger_evidence(state: ledger_mod.LedgerState) -> LedgerState | None:
    """The ledger's row as reconcile evidence: played False and no resume point is a
    proven unwatch; an offset (played False or None) a resume point."""
    if state.played is True:
        return LedgerState(True, None, state.observed_at)
    offset = state.view_offset_ms
    if offset is not None and offset > MIN_RESUME_MS:
        return LedgerState(False, offset, state.observed_at)
    if state.played is False:
        return LedgerState(False, None, state.observed_at)
    return None


@dataclass(frozen=True, slots=True)
class Change:
    """One planned write: a line of a dry run, a row of the outbox."""

    server: str
    rating_key: str
    action: str  # scrobble | unscrobble | resume
    title: str
    identity_key: str
    observed_at: float
    time_ms: int | None = None
    duration_ms: int | None = None
    unscrobble_first: bool = False
    items: int = 1  # leaf items it covers (a show-level scrobble covers its episodes)
    level: str = "item"  # item | show | season

    def describe(self, user: str) -> str:
        what = self.action
        if self.action == "resume":
            seconds = (self.time_ms or 0) // 1000
            what = f"resume at {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            if self.unscrobble_first:
                what += " (unscrobble first)"
        elif self.level != "item":
            what = f"{self.action} {self.level} ({self.items} episodes)"
        return f"plan: {self.server}: {user}: {what} {self.title!r} [{self.rating_key}]"


@dataclass(frozen=True, slots=True)
class Record:
    """A decided state for the ledger, guarded against a newer real-time change."""

    group: int
    observation: ledger_mod.Observation


@dataclass
class UserPlan:
    changes: list[Change] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    change_groups: list[int] = field(default_factory=list)  # group of each change (-1: show)
    groups_decided: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # server → writes not possible


@dataclass
class UserView:
    """What one user's plan needs: per server, their bit, their states, readable or not."""

    user_id: str
    user_name: str
    bits: list[int]  # per server index; 0 = not readable for this user
    states: list[dict[str, UserState]]


def best_ledger(
    entries: Iterable[ledger_mod.LedgerState], groups: Groups
) -> dict[int, ledger_mod.LedgerState]:
    """Newest ledger row per group, found by the item's keys or its show's/season's."""
    best: dict[int, ledger_mod.LedgerState] = {}
    for entry in entries:
        gi = groups.by_key.get(entry.identity_key)
        targets = (gi,) if gi is not None else groups.by_parent.get(entry.identity_key, ())
        for g in targets:
            known = best.get(g)
            if known is None or entry.observed_at > known.observed_at:
                best[g] = entry
    return best


def _same_state(evidence: LedgerState | None, target: Target) -> bool:
    if evidence is None or evidence.watched != target.watched:
        return False
    if target.watched:
        return True
    if target.view_offset_ms is None or evidence.view_offset_ms is None:
        return target.view_offset_ms == evidence.view_offset_ms
    return abs(target.view_offset_ms - evidence.view_offset_ms) <= OFFSET_TOLERANCE_MS


def _observations(
    view: UserView, group: Group, key: str, target: Target, source: str, clear_played: bool
) -> list[ledger_mod.Observation]:
    at = target.as_of if target.as_of is not None else 0.0
    common = {
        "user_id": view.user_id,
        "identity_key": key,
        "observed_at": at,
        "source_server": source,
        "user_name": view.user_name,
        "kind": group.kind,
        "title": group.title,
    }
    if target.watched:
        return [ledger_mod.Observation(change="played", **common)]  # type: ignore[arg-type]
    if target.view_offset_ms is None:
        return [ledger_mod.Observation(change="unplayed", **common)]  # type: ignore[arg-type]
    resume = ledger_mod.Observation(change="resume", offset_ms=target.view_offset_ms, **common)  # type: ignore[arg-type]
    if not clear_played:
        return [resume]
    # A resume row keeps an earlier `played`: clear it first so the row reads as the
    # resume point that was decided (it is newer than any watched mark, or it would not be).
    return [ledger_mod.Observation(change="unplayed", **common), resume]  # type: ignore[arg-type]


_ACTION = {
    Action.SCROBBLE: "scrobble",
    Action.UNSCROBBLE: "unscrobble",
    Action.SET_RESUME: "resume",
}


def plan_user(
    view: UserView,
    catalogs: Sequence[ServerCatalog],
    groups: Groups,
    ledger_rows: dict[int, ledger_mod.LedgerState],
    *,
    write_servers: frozenset[str] | None = None,
    only: str | None = None,
    played_keys: frozenset[str] | None = None,
) -> UserPlan:
    """Every write that brings this user's servers to the decided state, plus the
    ledger rows recording that state. `played_keys`: the user's ledger keys whose row says
    played (None: unknown, assume any might)."""
    plan = UserPlan()
    candidates: set[int] = set(ledger_rows)
    for si, states in enumerate(view.states):
        if not view.bits[si]:
            continue
        items = catalogs[si].items
        for rk in states:
            item = items.get(rk)
            if item is not None and item.group >= 0:
                candidates.add(item.group)
    allowed_actions = ONLY_ACTIONS.get(only or "")
    for gi in sorted(candidates):
        group = groups.groups[gi]
        row = ledger_rows.get(gi)
        evidence = ledger_evidence(row) if row is not None else None
        known = (
            Target(evidence.watched, evidence.view_offset_ms, evidence.observed_at, LEDGER)
            if evidence is not None
            else None
        )
        locations: list[tuple[int, str]] = []
        states: list[ServerState] = []
        for si, rk in group.members:
            bit = view.bits[si]
            if not bit:
                continue
            item = catalogs[si].items[rk]
            if not item.mask & bit:
                continue
            st = view.states[si].get(rk)
            server_state = ServerState(
                str(len(locations)),
                st.watched if st else False,
                st.view_offset_ms if st else None,
                st.last_viewed_at if st else None,
            )
            if st is not None and known is not None and known.holds_on(server_state):
                # Plex stamps lastViewedAt with "now" on every API write, ours included: a
                # server holding what the ledger knows dates from the ledger's time.
                server_state = ServerState(
                    server_state.server,
                    server_state.watched,
                    server_state.view_offset_ms,
                    known.as_of,
                )
            states.append(server_state)
            locations.append((si, rk))
        if not locations:
            continue
        target, writes = reconcile(states, evidence)
        if target is None:
            continue
        plan.groups_decided += 1
        if target.source != LEDGER and not _same_state(evidence, target):
            # Update the row the ledger already has for this item, else the group's key;
            # a show-level row stays as it is (it speaks for every episode).
            key = group.key
            if row is not None and row.identity_key in groups.by_key:
                key = row.identity_key
            source = catalogs[locations[int(target.source)][0]].name
            clear = played_keys is None or key in played_keys
            for obs in _observations(view, group, key, target, f"sync:{source}", clear):
                plan.records.append(Record(gi, obs))
        for w in writes:
            si, rk = locations[int(w.server)]
            server = catalogs[si].name
            action = _ACTION[w.action]
            if write_servers is not None and server not in write_servers:
                continue
            if allowed_actions is not None and action not in allowed_actions:
                continue
            item = catalogs[si].items[rk]
            if action == "resume" and not item.duration_ms:
                plan.skipped[server] = plan.skipped.get(server, 0) + 1
                continue
            key = group.key
            if sum(1 for s, _ in group.members if s == si) > 1:
                key = f"{group.key}@{rk}"  # two copies on one server: one outbox row each
            plan.changes.append(
                Change(
                    server=server,
                    rating_key=rk,
                    action=action,
                    title=item.title,
                    identity_key=key,
                    observed_at=target.as_of if target.as_of is not None else 0.0,
                    time_ms=w.view_offset_ms,
                    duration_ms=item.duration_ms,
                    unscrobble_first=w.unscrobble_first,
                )
            )
            plan.change_groups.append(gi)
    _collapse_shows(plan, view, catalogs)
    return plan


def _collapse_shows(plan: UserPlan, view: UserView, catalogs: Sequence[ServerCatalog]) -> None:
    """Two or more episode scrobbles that leave a whole show (else season) watched on a
    server become one show-level (season-level) scrobble."""
    index = {catalog.name: si for si, catalog in enumerate(catalogs)}
    by_show: dict[tuple[int, str], list[int]] = {}
    for n, change in enumerate(plan.changes):
        if change.action != "scrobble":
            continue
        si = index[change.server]
        item = catalogs[si].items[change.rating_key]
        if item.kind == "episode" and item.show_rk:
            by_show.setdefault((si, item.show_rk), []).append(n)
    if not by_show:
        return
    drop: set[int] = set()
    added: list[tuple[Change, int]] = []
    for (si, show_rk), positions in by_show.items():
        if len(positions) < 2:
            continue
        catalog = catalogs[si]
        show = catalog.shows.get(show_rk)
        if show is None:
            continue
        planned = {plan.changes[n].rating_key: n for n in positions}
        first = plan.changes[positions[0]]
        show_key = show.keys[0] if show.keys else f"show:{catalog.name}/{show_rk}"
        if _all_watched(show.episodes, planned, catalog, view.bits[si], view.states[si]):
            drop.update(positions)
            change = _level_change(first, show_rk, show.title, show_key, "show", positions, plan)
            added.append((change, -1))
            continue
        for season_rk, episodes in show.seasons.items():
            inside = [planned[rk] for rk in episodes if rk in planned]
            if len(inside) < 2 or not _all_watched(
                episodes, planned, catalog, view.bits[si], view.states[si]
            ):
                continue
            season_no = catalog.items[episodes[0]].season
            season_key = f"season:{show_key.partition(':')[2]}/s{season_no}"
            drop.update(inside)
            title = f"{show.title} season {season_no}"
            change = _level_change(first, season_rk, title, season_key, "season", inside, plan)
            added.append((change, -1))
    if not drop:
        return
    keep = [n for n in range(len(plan.changes)) if n not in drop]
    plan.changes = [plan.changes[n] for n in keep] + [c for c, _ in added]
    plan.change_groups = [plan.change_groups[n] for n in keep] + [g for _, g in added]


def _all_watched(
    episodes: list[str],
    planned: dict[str, int],
    catalog: ServerCatalog,
    bit: int,
    states: dict[str, UserState],
) -> bool:
    for rk in episodes:
        item = catalog.items.get(rk)
        if item is None or not item.mask & bit:
            continue  # not the user's to see: a show-level scrobble is per user anyway
        st = states.get(rk)
        if rk not in planned and not (st is not None and st.watched):
            return False
    return True


def _level_change(
    first: Change,
    rating_key: str,
    title: str,
    key: str,
    level: str,
    positions: list[int],
    plan: UserPlan,
) -> Change:
    return Change(
        server=first.server,
        rating_key=rating_key,
        action="scrobble",
        title=title,
        identity_key=key,
        observed_at=max(plan.changes[n].observed_at for n in positions),
        items=len(positions),
        level=level,
    )
