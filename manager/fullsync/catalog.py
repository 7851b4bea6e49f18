"""A full sync's catalogue: one server's items for one run, as its owner's listing gave
them (read.py fills it), and the user state a listed item carries.

Kept small on purpose: one slotted `CatalogItem` per server item (identity keys are
dropped once grouped). Which users can see an item is a bit mask on the item (bit 0: the
server's owner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from manager.model import MIN_RESUME_MS, ItemKey
from manager.servers.identity import identity_keys, identity_of
from manager.servers.models import EPISODE, MediaItem

ADMIN_BIT = 1


class UserState(NamedTuple):
    watched: bool
    view_offset_ms: int | None
    last_viewed_at: float | None


@dataclass(slots=True)
class CatalogItem:
    item_id: str
    kind: str  # movie | episode
    title: str
    duration_ms: int | None
    keys: tuple[ItemKey, ...]  # identity keys, best first; () when the item has no identity
    show_id: str | None = None
    season_id: str | None = None
    season: int | None = None
    group: int = -1
    mask: int = 0  # who can see it: one bit per user of this run (see ADMIN_BIT)


@dataclass(slots=True)
class ShowEntry:
    item_id: str
    title: str
    keys: tuple[ItemKey, ...]
    item: MediaItem  # kept for the identity of its episodes
    episodes: list[str] = field(default_factory=list)
    seasons: dict[str, list[str]] = field(default_factory=dict)  # season id → episode ids


@dataclass
class Catalog:
    """One server's items for one full sync, by the server's item id."""

    name: str
    level_marks: bool = True  # the server marks a whole show or season in one request
    items: dict[str, CatalogItem] = field(default_factory=dict)
    shows: dict[str, ShowEntry] = field(default_factory=dict)
    error: str | None = None
    without_identity: int = 0
    # One copy of each identity key and title for the run's catalogues (RunReader shares
    # one table): every server repeats them, and all are held until grouped. Not
    # sys.intern: in Python 3.12 that makes them immortal, and the table would stay.
    strings: dict[str, str] = field(default_factory=dict, repr=False)
    numbers: dict[int, int] = field(default_factory=dict, repr=False)  # durations, alike

    def add(self, item: MediaItem) -> CatalogItem:
        show = self.shows.get(item.show_id or "") if item.kind == EPISODE else None
        identity = identity_of(item, show.item if show else None)
        share = self.strings.setdefault
        keys = (
            tuple(ItemKey(share(k, k)) for k in identity_keys(identity))
            if not identity.is_empty
            else ()
        )
        if not keys:
            self.without_identity += 1
        if item.kind == EPISODE:
            title = (
                f"{item.show_title or (show.title if show else '?')} "
                f"S{item.season_number or 0:02d}E{item.episode_number or 0:02d}"
            )
        else:
            title = item.title
        entry = CatalogItem(
            item_id=item.id,
            kind=item.kind,
            title=share(title, title),
            duration_ms=(
                self.numbers.setdefault(item.duration_ms, item.duration_ms)
                if item.duration_ms is not None
                else None
            ),
            keys=keys,
            show_id=item.show_id if item.kind == EPISODE else None,
            season_id=item.season_id if item.kind == EPISODE else None,
            season=item.season_number,
        )
        self.items[item.id] = entry
        if show is not None:
            show.episodes.append(item.id)
            if entry.season_id:
                show.seasons.setdefault(entry.season_id, []).append(item.id)
        return entry

    def add_show(self, item: MediaItem) -> None:
        identity = identity_of(item)
        keys = tuple(identity_keys(identity)) if not identity.is_empty else ()
        self.shows[item.id] = ShowEntry(item.id, item.title, keys, item)


def state_of(item: MediaItem) -> UserState | None:
    """The user state a listed item carries, or None when it carries none."""
    offset = item.resume_ms if item.resume_ms > MIN_RESUME_MS else None
    if not item.played and offset is None:
        return None
    lva = float(item.last_played_at) if item.last_played_at else None
    return UserState(item.played, offset, lva)
