"""The manager's vocabulary: one name per concept, shared by every part.

- `UserId`: a person across the whole cluster (for Plex, their plex.tv account id), as text.
- `ItemKey`: an item's identity across servers ("movie:imdb://tt0111161"); built only in
  `manager.servers.identity`.
- `Change`: what happened to a user's state of one item, from the ledger to the CLI.
- `Outcome`: what the real-time path did with one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, NewType

UserId = NewType("UserId", str)
ItemKey = NewType("ItemKey", str)

UserKind = Literal["owner", "shared", "managed"]

# Resume points within this distance are the same: clients report positions with a few
# seconds of jitter, and rewriting them would be the flip-flop users complain of.
RESUME_TOLERANCE_MS = 10_000
# A position of a minute or less is no resume point: Plex ignores it (Jellyfin and Emby
# drop positions under 5 %), so treating it as state would write it again and again.
MIN_RESUME_MS = 60_000


class Change(StrEnum):
    """A change of one user's state of one item. plexapi's verbs are markPlayed,
    markUnplayed and updateTimeline; "watched" is the CLI's word for the first two."""

    PLAYED = "played"
    UNPLAYED = "unplayed"
    RESUME = "resume"

    @classmethod
    def parse(cls, value: str) -> Change:
        """A stored change; the outbox of earlier versions said scrobble/unscrobble."""
        return cls(_OLD_NAMES.get(value, value))


_OLD_NAMES = {"scrobble": "played", "unscrobble": "unplayed"}

# The CLI's `--only` choices and the changes each lets through.
ONLY: dict[str, frozenset[Change]] = {
    "watched": frozenset({Change.PLAYED, Change.UNPLAYED}),
    "progress": frozenset({Change.RESUME}),
}


@dataclass(frozen=True, slots=True)
class ClusterUser:
    """One person, the same on every server they can use."""

    id: UserId
    name: str
    kind: UserKind
    # Other names the person goes by on that kind (Plex: the title beside the username),
    # which a user of another kind may match (servers/people.py).
    aliases: tuple[str, ...] = field(default=(), compare=False)


class Outcome(StrEnum):
    """What handling one event came to; the value is the `outcome=` of its log line."""

    QUEUED = "queued"
    THROTTLED = "throttled"
    UNCHANGED = "unchanged"
    ALREADY_PLAYED = "already_played"
    NO_PEERS = "no_peers"
    IGNORED = "ignored"
    STALE = "stale"
    UNKNOWN_SOURCE = "unknown_source"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_ITEM = "unknown_item"
    NO_IDENTITY = "no_identity"
    USER_LOOKUP_FAILED = "user_lookup_failed"
    SOURCE_UNREADABLE = "source_unreadable"
    ERROR = "error"
    UNREADABLE = "unreadable"
    DUPLICATE = "duplicate"

    @property
    def retryable(self) -> bool:
        """Caused by something temporary (a server or the directory unreachable)."""
        return self in _RETRYABLE

    @property
    def routine(self) -> bool:
        """Logged at info: the normal life of an event, nothing for a human to look at."""
        return self in _ROUTINE


_RETRYABLE = frozenset({Outcome.SOURCE_UNREADABLE, Outcome.USER_LOOKUP_FAILED, Outcome.ERROR})
_ROUTINE = frozenset(
    {
        Outcome.QUEUED,
        Outcome.THROTTLED,
        Outcome.NO_PEERS,
        Outcome.IGNORED,
        Outcome.ALREADY_PLAYED,
        Outcome.UNCHANGED,
        Outcome.STALE,
        Outcome.DUPLICATE,
    }
)
