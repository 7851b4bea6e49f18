"""Decide one user's state for one item across servers: the rule the full sync applies.

Evidence comes from two places. The ledger knows when and where a change really happened
(the proxies saw it); servers only know `viewCount`, `viewOffset` and `lastViewedAt`, and
an unscrobble leaves no timestamp at all. So:

- the newest dated evidence wins; the ledger's date is the time the change was observed;
- "unwatched" can win only through the ledger, because a server that lacks a watched mark
  may simply never have seen the item (a new, empty server must not unwatch anybody); a
  resume point the ledger recorded after an unwatch is that unwatch, with a position;
- a resume point never overwrites a newer "watched";
- writing what a server already holds is skipped, so a second run writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from manager.model import RESUME_TOLERANCE_MS, Change

# Where a target came from when the ledger, not a server, holds the deciding evidence.
LEDGER = -1


@dataclass(frozen=True, slots=True)
class ServerState:
    server: int  # the caller's index of the server
    watched: bool
    view_offset_ms: int | None
    last_viewed_at: float | None


@dataclass(frozen=True, slots=True)
class LedgerEvidence:
    watched: bool
    view_offset_ms: int | None
    observed_at: float
    # The ledger saw the item made unplayed and not played since: an unwatch as of
    # `observed_at`, with the resume point it may have had after.
    unwatched: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    watched: bool
    view_offset_ms: int | None
    as_of: float | None
    source: int  # a server's index, or LEDGER

    def holds_on(self, state: ServerState) -> bool:
        if self.watched != state.watched:
            return False
        if self.watched:
            return True
        if self.view_offset_ms is None:
            return not state.view_offset_ms
        return state.view_offset_ms is not None and (
            abs(state.view_offset_ms - self.view_offset_ms) <= RESUME_TOLERANCE_MS
        )


@dataclass(frozen=True, slots=True)
class Correction:
    """What one server needs to reach the target."""

    server: int
    change: Change
    view_offset_ms: int | None = None
    # A watched item keeps reading as watched with a resume point: mark it unplayed first.
    unscrobble_first: bool = False


def _newest(targets: list[Target]) -> Target:
    return max(targets, key=lambda t: t.as_of if t.as_of is not None else float("-inf"))


def _date(target: Target | None) -> float:
    if target is None or target.as_of is None:
        return float("-inf")
    return target.as_of


def decide_target(states: list[ServerState], ledger: LedgerEvidence | None) -> Target | None:
    """The state every server should hold, or None when nobody has any evidence."""
    watched: list[Target] = []
    progress: list[Target] = []
    for s in states:
        if s.watched:
            watched.append(Target(True, None, s.last_viewed_at, s.server))
        elif s.view_offset_ms:
            progress.append(Target(False, s.view_offset_ms, s.last_viewed_at, s.server))
    unwatch: Target | None = None
    if ledger is not None:
        if ledger.watched:
            watched.append(Target(True, None, ledger.observed_at, LEDGER))
        elif ledger.unwatched or not ledger.view_offset_ms:
            unwatch = Target(False, ledger.view_offset_ms, ledger.observed_at, LEDGER)
        else:
            progress.append(Target(False, ledger.view_offset_ms, ledger.observed_at, LEDGER))

    # A resume point never undoes "watched": only an unwatch the ledger saw, newer than every
    # watched mark, does. The ledger wins ties because its clock is the source's own.
    if watched and (unwatch is None or max(_date(w) for w in watched) > _date(unwatch)):
        return _newest(watched)
    fresh = [p for p in progress if _date(p) > _date(unwatch)] if unwatch else progress
    if fresh:
        return _newest(fresh)
    return unwatch


def plan_corrections(states: list[ServerState], target: Target | None) -> list[Correction]:
    """What brings every server in `states` to `target`, nothing where it already holds."""
    if target is None:
        return []
    out: list[Correction] = []
    for state in states:
        if target.holds_on(state):
            continue
        if target.watched:
            out.append(Correction(state.server, Change.PLAYED))
        elif target.view_offset_ms:
            out.append(
                Correction(state.server, Change.RESUME, target.view_offset_ms, state.watched)
            )
        else:
            out.append(Correction(state.server, Change.UNPLAYED))
    return out


def reconcile(
    states: list[ServerState], ledger: LedgerEvidence | None
) -> tuple[Target | None, list[Correction]]:
    target = decide_target(states, ledger)
    return target, plan_corrections(states, target)
