"""Full sync, planning: what to write for one user, and what to record in the ledger.

Per group of the same item (group.py), the user's state on every server that has the item
and the ledger's newest entry for it (by any of its keys, or its show's or season's, since
show-level marks are recorded under the show) go through `reconcile`. A whole show (or
season) that ends up watched on a server by two or more marks becomes one show-level
(season-level) mark where the server's kind has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from manager.fullsync.catalog import Catalog, UserState
from manager.fullsync.group import Group, Groups
from manager.fullsync.reconcile import (
    LEDGER,
    LedgerEvidence,
    ServerState,
    Target,
    reconcile,
)
from manager.model import MIN_RESUME_MS, ONLY, RESUME_TOLERANCE_MS, Change, ItemKey, UserId
from manager.servers.identity import copy_key, local_show_key, season_key
from manager.servers.peer_clock import same_stamp
from manager.store.ledger import LedgerEntry, Observation, with_parent

# server → item id → (stamp, change time) of our last write there (store/peer_writes.py)
type Stamps = Mapping[str, Mapping[str, tuple[int, float]]]


def ledger_evidence(state: LedgerEntry) -> LedgerEvidence | None:
    """The ledger's row as reconcile evidence: played False is a proven unwatch (with the
    resume point recorded after it, if any); an offset with played unknown a resume point."""
    offset = state.view_offset_ms
    if offset is not None and offset <= MIN_RESUME_MS:
        offset = None
    if state.played is True:
        return LedgerEvidence(True, None, state.observed_at)
    if state.played is False:
        return LedgerEvidence(False, offset, state.observed_at, unwatched=True)
    if offset is not None:
        return LedgerEvidence(False, offset, state.observed_at)
    return None


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One planned write: a line of a dry run, a row of the outbox."""

    server: str
    item_id: str
    change: Change
    title: str
    identity_key: ItemKey
    observed_at: float
    time_ms: int | None = None
    duration_ms: int | None = None
    unscrobble_first: bool = False
    items: int = 1  # leaf items it covers (a show-level scrobble covers its episodes)
    level: str = "item"  # item | show | season

    def describe(self, user: str) -> str:
        what = self.change.value
        if self.change is Change.RESUME:
            seconds = (self.time_ms or 0) // 1000
            what = f"resume at {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            if self.unscrobble_first:
                what += " (unplayed first)"
        elif self.level != "item":
            what = f"{self.change.value} {self.level} ({self.items} episodes)"
        return f"plan: {self.server}: {user}: {what} {self.title!r} [{self.item_id}]"


@dataclass(frozen=True, slots=True)
class Record:
    """A decided state for the ledger, guarded against a newer real-time change."""

    group: int
    observation: Observation


@dataclass
class UserPlan:
    writes: list[PlannedWrite] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    write_groups: list[int] = field(default_factory=list)  # group of each write (-1: show)
    groups_decided: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # server → writes not possible


@dataclass
class UserView:
    """What one user's plan needs: per server, their bit, their states, readable or not."""

    user_id: UserId
    user_name: str
    bits: list[int]  # per server index; 0 = not readable for this user
    states: list[dict[str, UserState]]


def best_ledger(entries: Iterable[LedgerEntry], groups: Groups) -> dict[int, LedgerEntry]:
    """What the ledger knows per group: the newest row found by the item's own keys, with
    the newest row of its show or season taken into account as the real-time path does
    (ledger.with_parent)."""
    own: dict[int, LedgerEntry] = {}
    parent: dict[int, LedgerEntry] = {}
    for entry in entries:
        gi = groups.by_key.get(entry.identity_key)
        if gi is not None:
            _keep_newest(own, gi, entry)
            continue
        for g in groups.by_parent.get(entry.identity_key, ()):
            _keep_newest(parent, g, entry)
    best: dict[int, LedgerEntry] = {}
    for gi in own.keys() | parent.keys():
        entry = own.get(gi)
        key = entry.identity_key if entry is not None else groups.groups[gi].key
        merged = with_parent(entry, parent.get(gi), key)
        if merged is not None:
            best[gi] = merged
    return best


def _keep_newest(best: dict[int, LedgerEntry], gi: int, entry: LedgerEntry) -> None:
    known = best.get(gi)
    if known is None or entry.observed_at > known.observed_at:
        best[gi] = entry


def _same_state(evidence: LedgerEvidence | None, target: Target) -> bool:
    if evidence is None or evidence.watched != target.watched:
        return False
    if target.watched:
        return True
    if target.view_offset_ms is None or evidence.view_offset_ms is None:
        return target.view_offset_ms == evidence.view_offset_ms
    return abs(target.view_offset_ms - evidence.view_offset_ms) <= RESUME_TOLERANCE_MS


def _ours(stamps: Stamps | None, catalog: Catalog, item_id: str) -> list[tuple[int, float]]:
    """The stamps of our last writes there to this item, its season and its show (a
    show-level write stamps every episode it marks)."""
    there = stamps.get(catalog.name) if stamps else None
    if not there:
        return []
    item = catalog.items[item_id]
    keys = (item_id, item.season_id, item.show_id)
    return [there[k] for k in keys if k and k in there]


def _dated(
    st: UserState | None, row: LedgerEntry | None, server: str, ours: list[tuple[int, float]]
) -> float | None:
    """When a server's state came about. Its `last_played_at` is the server's "now" when
    the state was last written: our own write (a stamp we recorded) dates from the change
    it replayed, and the ledger's own change made on that server from the ledger's time.
    Neither is evidence of anything newer."""
    if st is None or st.last_viewed_at is None:
        return None
    stamp = st.last_viewed_at
    for our_stamp, change_at in ours:
        if same_stamp(our_stamp, stamp):
            return change_at
    if row is not None and row.source_server == server and abs(stamp - row.observed_at) <= 2:
        return row.observed_at
    return stamp


def _observations(
    view: UserView, group: Group, key: ItemKey, target: Target, source: str, clear_played: bool
) -> list[Observation]:
    at = target.as_of if target.as_of is not None else 0.0

    def observation(change: Change, offset_ms: int | None = None) -> Observation:
        return Observation(
            user_id=view.user_id,
            identity_key=key,
            change=change,
            observed_at=at,
            source_server=source,
            offset_ms=offset_ms,
            user_name=view.user_name,
            kind=group.kind,
            title=group.title,
        )

    if target.watched:
        return [observation(Change.PLAYED)]
    if target.view_offset_ms is None:
        return [observation(Change.UNPLAYED)]
    resume = observation(Change.RESUME, target.view_offset_ms)
    if not clear_played:
        return [resume]
    # A resume row keeps an earlier `played`: clear it first so the row reads as the
    # resume point that was decided (it is newer than any watched mark, or it would not be).
    return [observation(Change.UNPLAYED), resume]


def plan_user(
    view: UserView,
    catalogs: Sequence[Catalog],
    groups: Groups,
    ledger_rows: dict[int, LedgerEntry],
    *,
    write_servers: frozenset[str] | None = None,
    only: str | None = None,
    played_keys: frozenset[ItemKey] | None = None,
    stamps: Stamps | None = None,
) -> UserPlan:
    """Every write that brings this user's servers to the decided state, plus the
    ledger rows recording that state. `played_keys`: the user's ledger keys whose row says
    played (None: unknown, assume any might). `stamps`: server → item id → the stamp our
    own last write left there and the time of the change it replayed."""
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
    allowed = ONLY.get(only or "")
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
                len(locations),
                st.watched if st else False,
                st.view_offset_ms if st else None,
                _dated(st, row, catalogs[si].name, _ours(stamps, catalogs[si], rk)),
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
        target, corrections = reconcile(states, evidence)
        if target is None:
            continue
        plan.groups_decided += 1
        if target.source != LEDGER and not _same_state(evidence, target):
            # Update the row the ledger already has for this item, else the group's key;
            # a show-level row stays as it is (it speaks for every episode).
            key = group.key
            if row is not None and row.identity_key in groups.by_key:
                key = row.identity_key
            source = catalogs[locations[target.source][0]].name
            clear = played_keys is None or key in played_keys
            for obs in _observations(view, group, key, target, f"sync:{source}", clear):
                plan.records.append(Record(gi, obs))
        for c in corrections:
            si, rk = locations[c.server]
            server = catalogs[si].name
            if write_servers is not None and server not in write_servers:
                continue
            if allowed is not None and c.change not in allowed:
                continue
            item = catalogs[si].items[rk]
            if c.change is Change.RESUME and not item.duration_ms:
                plan.skipped[server] = plan.skipped.get(server, 0) + 1
                continue
            key = group.key
            if sum(1 for s, _ in group.members if s == si) > 1:
                key = copy_key(group.key, rk)  # two copies on one server: one outbox row each
            plan.writes.append(
                PlannedWrite(
                    server=server,
                    item_id=rk,
                    change=c.change,
                    title=item.title,
                    identity_key=key,
                    observed_at=target.as_of if target.as_of is not None else 0.0,
                    time_ms=c.view_offset_ms,
                    duration_ms=item.duration_ms,
                    unscrobble_first=c.unscrobble_first,
                )
            )
            plan.write_groups.append(gi)
    _collapse_shows(plan, view, catalogs)
    return plan


def _collapse_shows(plan: UserPlan, view: UserView, catalogs: Sequence[Catalog]) -> None:
    """Two or more episode marks that leave a whole show (else season) watched on a
    server become one show-level (season-level) mark, where the server has them."""
    index = {catalog.name: si for si, catalog in enumerate(catalogs)}
    by_show: dict[tuple[int, str], list[int]] = {}
    for n, write in enumerate(plan.writes):
        if write.change is not Change.PLAYED:
            continue
        si = index[write.server]
        if not catalogs[si].level_marks:
            continue
        item = catalogs[si].items[write.item_id]
        if item.kind == "episode" and item.show_id:
            by_show.setdefault((si, item.show_id), []).append(n)
    if not by_show:
        return
    drop: set[int] = set()
    added: list[tuple[PlannedWrite, int]] = []
    for (si, show_id), positions in by_show.items():
        if len(positions) < 2:
            continue
        catalog = catalogs[si]
        show = catalog.shows.get(show_id)
        if show is None:
            continue
        planned = {plan.writes[n].item_id: n for n in positions}
        first = plan.writes[positions[0]]
        show_key = show.keys[0] if show.keys else local_show_key(catalog.name, show_id)
        if _all_watched(show.episodes, planned, catalog, view.bits[si], view.states[si]):
            drop.update(positions)
            write = _level_write(first, show_id, show.title, show_key, "show", positions, plan)
            added.append((write, -1))
            continue
        for season_id, episodes in show.seasons.items():
            inside = [planned[rk] for rk in episodes if rk in planned]
            if len(inside) < 2 or not _all_watched(
                episodes, planned, catalog, view.bits[si], view.states[si]
            ):
                continue
            season_no = catalog.items[episodes[0]].season
            key = season_key(show_key, season_no)
            drop.update(inside)
            title = f"{show.title} season {season_no}"
            write = _level_write(first, season_id, title, key, "season", inside, plan)
            added.append((write, -1))
    if not drop:
        return
    keep = [n for n in range(len(plan.writes)) if n not in drop]
    plan.writes = [plan.writes[n] for n in keep] + [w for w, _ in added]
    plan.write_groups = [plan.write_groups[n] for n in keep] + [g for _, g in added]


def _all_watched(
    episodes: list[str],
    planned: dict[str, int],
    catalog: Catalog,
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


def _level_write(
    first: PlannedWrite,
    item_id: str,
    title: str,
    key: ItemKey,
    level: str,
    positions: list[int],
    plan: UserPlan,
) -> PlannedWrite:
    return PlannedWrite(
        server=first.server,
        item_id=item_id,
        change=Change.PLAYED,
        title=title,
        identity_key=key,
        observed_at=max(plan.writes[n].observed_at for n in positions),
        items=len(positions),
        level=level,
    )
