"""What one peer should hold for one user and item when a write is delivered, and whether
to write at all. Pure functions, table-tested.

Rule:
- The goal is the ledger's state for the item (its own row, or a newer show- or
  season-level change), when that is at least as new as the write; else the write's own.
  So a write that waited in the outbox never brings back a state the ledger knows to be
  superseded, and a write skipped earlier (the user was playing there) delivers what is
  true now.
- A peer that already holds the goal gets nothing: played stays played (a second
  scrobble would count a play that never happened), a resume point within the tolerance
  is the same, unplayed is unplayed.
- A peer whose state is newer than the goal, and would win over it, keeps it (a resume
  point never wins over played). Its `last_played_at` is evidence of a newer change only
  when neither our own earlier write (a recorded stamp) nor the ledger's own change made
  on that peer explains it.
- Otherwise the steps to the goal: played; unplayed; a resume point, after marking the
  item unplayed when the goal says unplayed and the peer has it played.
"""

from __future__ import annotations

from dataclasses import dataclass

from manager.model import MIN_RESUME_MS, RESUME_TOLERANCE_MS, Change
from manager.servers.models import SEASON, SHOW, MediaItem
from manager.servers.peer_clock import same_stamp
from manager.store.ledger import LedgerEntry
from manager.store.outbox import Write

# Stamps are whole seconds of the peer's clock, change times fractions of the proxy's
# (whose clock it shares, as a proxy runs beside its server): a stamp this close to a
# change made on that very peer is that change's own.
STAMP_SLACK_S = 2.0


@dataclass(frozen=True, slots=True)
class Goal:
    watched: bool | None  # None: leave played as it is (only a resume point is known)
    position_ms: int | None  # a resume point to hold, or None
    as_of: float  # when the state came about at its source
    source: str  # the server where that change was made ("" when not known)


def goal_for(write: Write, known: LedgerEntry | None) -> Goal:
    if known is not None and known.observed_at >= write.observed_at:
        position = known.view_offset_ms
        if position is not None and position <= MIN_RESUME_MS:
            position = None
        if known.played is None and position is None:
            return _from_write(write)
        return Goal(known.played, position, known.observed_at, known.source_server)
    return _from_write(write)


def _from_write(write: Write) -> Goal:
    if write.change is Change.PLAYED:
        return Goal(True, None, write.observed_at, "")
    if write.change is Change.UNPLAYED:
        return Goal(False, None, write.observed_at, "")
    watched = False if write.unscrobble_first else None
    return Goal(watched, write.time_ms, write.observed_at, "")


def _container(item: MediaItem) -> bool:
    return item.kind in (SHOW, SEASON)


def holds(goal: Goal, peer: MediaItem, episodes: list[MediaItem] | None = None) -> bool:
    """Whether the peer's state (as the user sees it) already is the goal. For a show or
    season, its `episodes` as the user sees them: played all, or none played and none
    with a resume point (unplayed clears those too)."""
    if goal.watched is None and goal.position_ms is None:
        return True  # nothing is asked of it
    if _container(peer):
        if goal.watched is True:
            return bool(episodes) and all(e.played for e in episodes or ())
        return goal.watched is False and all(
            not e.played and e.resume_ms <= MIN_RESUME_MS for e in episodes or ()
        )
    if goal.watched is not None and goal.watched != peer.played:
        return False
    if goal.position_ms is None:
        return goal.watched is True or peer.resume_ms <= MIN_RESUME_MS
    return abs(peer.resume_ms - goal.position_ms) <= RESUME_TOLERANCE_MS


def peer_is_newer(
    goal: Goal, peer: MediaItem, peer_name: str, ours: list[tuple[int, float]]
) -> bool:
    """Whether the peer holds a change made after the goal's (and unknown to the ledger)
    that would win over it. Nothing wins over "played" but an unwatch, which leaves no
    date on a server: a newer resume point never undoes played (it only keeps its own
    position on an item played there too)."""
    if goal.watched is True and not peer.played:
        return False
    stamp = peer.last_played_at
    if stamp is None:
        return False  # unplayed leaves no date: nothing there can be shown newer
    mine = [change_at for our_stamp, change_at in ours if same_stamp(our_stamp, stamp)]
    if mine:
        dated = max(mine)  # our own write's stamp: as old as the change it replayed
    elif goal.source == peer_name and abs(stamp - goal.as_of) <= STAMP_SLACK_S:
        dated = goal.as_of  # the goal's own change, made on this very peer
    else:
        dated = float(stamp)
    # Whole seconds against the change's fraction: a later second is a later change.
    return dated > goal.as_of


def steps(goal: Goal, peer: MediaItem) -> list[Change]:
    """The writes that bring the peer to the goal, in order."""
    if goal.watched is True:
        todo = [] if peer.played and not _container(peer) else [Change.PLAYED]
        return [*todo, Change.RESUME] if goal.position_ms is not None else todo
    if goal.position_ms is None:
        return [Change.UNPLAYED]
    unplay = goal.watched is False and (peer.played or bool(peer.played_leaves))
    return [Change.UNPLAYED, Change.RESUME] if unplay else [Change.RESUME]
