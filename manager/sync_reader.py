"""Full sync, reading: one server's catalogue and each user's watch state, in pages.

Per server the admin's listing (shows first, then movies and episodes, `includeGuids=1`,
pages of 1 000) builds the catalogue: every item's identity keys, duration, show and
season. Every other user's listing of the same sections only adds that user's state. No
per-item request is made: a request count that grows with pages, not items.

Kept small on purpose: one slotted `CatalogItem` per server item (identity keys are
dropped once grouped), and per (server, user) only the items that carry some state.
Which users can see an item is a bit mask on the item (bit 0: the server's admin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from manager.guids import identity_keys, identity_of
from manager.plex.models import TYPE_EPISODE, TYPE_MOVIE, TYPE_SHOW, PlexItem, Section
from manager.plex.server_client import DEFAULT_PAGE_SIZE, PlexServerClient

# Plex ignores resume points of a minute or less (and so does the emulator): treating
# them as state would make the sync write them again on every run.
MIN_RESUME_MS = 60_000
ADMIN_BIT = 1


class UserState(NamedTuple):
    watched: bool
    view_offset_ms: int | None
    last_viewed_at: float | None


@dataclass(slots=True)
class CatalogItem:
    rating_key: str
    kind: str  # movie | episode
    title: str
    duration_ms: int | None
    keys: tuple[str, ...]  # identity keys, best first; () when the item has no identity
    show_rk: str | None = None
    season_rk: str | None = None
    season: int | None = None
    group: int = -1
    mask: int = 0  # who can see it: one bit per user of this run (see ADMIN_BIT)


@dataclass(slots=True)
class ShowEntry:
    rating_key: str
    title: str
    keys: tuple[str, ...]
    item: PlexItem  # kept for the identity of its episodes
    episodes: list[str] = field(default_factory=list)
    seasons: dict[str, list[str]] = field(default_factory=dict)  # season rk → episode rks


@dataclass
class ServerCatalog:
    name: str
    items: dict[str, CatalogItem] = field(default_factory=dict)
    shows: dict[str, ShowEntry] = field(default_factory=dict)
    error: str | None = None
    without_identity: int = 0

    def add(self, item: PlexItem) -> CatalogItem:
        show = self.shows.get(item.grandparent_rating_key or "") if item.type == "episode" else None
        identity = identity_of(item, show.item if show else None)
        keys = tuple(identity_keys(identity)) if not identity.is_empty else ()
        if not keys:
            self.without_identity += 1
        if item.type == "episode":
            title = (
                f"{item.show_title or (show.title if show else '?')} "
                f"S{item.season_index or 0:02d}E{item.episode_index or 0:02d}"
            )
        else:
            title = item.title
        entry = CatalogItem(
            rating_key=item.rating_key,
            kind=item.type,
            title=title,
            duration_ms=item.duration_ms,
            keys=keys,
            show_rk=item.grandparent_rating_key if item.type == "episode" else None,
            season_rk=item.parent_rating_key if item.type == "episode" else None,
            season=item.season_index,
        )
        self.items[item.rating_key] = entry
        if show is not None:
            show.episodes.append(item.rating_key)
            if entry.season_rk:
                show.seasons.setdefault(entry.season_rk, []).append(item.rating_key)
        return entry

    def add_show(self, item: PlexItem) -> None:
        identity = identity_of(item)
        keys = tuple(identity_keys(identity)) if not identity.is_empty else ()
        self.shows[item.rating_key] = ShowEntry(item.rating_key, item.title, keys, item)


def state_of(item: PlexItem) -> UserState | None:
    """The user state a listed item carries, or None when it carries none."""
    offset = item.view_offset_ms if item.view_offset_ms > MIN_RESUME_MS else None
    watched = item.view_count > 0
    if not watched and offset is None:
        return None
    lva = float(item.last_viewed_at) if item.last_viewed_at else None
    return UserState(watched, offset, lva)


@dataclass
class Listing:
    states: dict[str, UserState] = field(default_factory=dict)
    compared: int = 0
    pages: int = 0


PageHook = Callable[[int], None]


async def _scan(
    client: PlexServerClient,
    token: str,
    section: Section,
    type_code: int,
    page_size: int,
    on_page: Callable[[list[PlexItem]], None],
) -> int:
    pages = 0
    async for page in client.iter_items(token, section, type_code, page_size):
        pages += 1
        on_page(page)
        await asyncio.sleep(0)  # let real-time events in between pages
    return pages


async def read_listing(
    client: PlexServerClient,
    token: str,
    catalog: ServerCatalog,
    bit: int,
    *,
    build: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_items: PageHook | None = None,
) -> Listing:
    """Every movie and episode the token's user sees, with their state.

    `build=True` (the admin's read) fills the catalogue, shows first so that episodes get
    their show's ids. Other users' reads only add state and visibility.
    """
    listing = Listing()
    sections = await client.sections(token)
    movie_sections = [s for s in sections if s.type == "movie"]
    show_sections = [s for s in sections if s.type == "show"]

    if build:
        for section in show_sections:
            listing.pages += await _scan(
                client,
                token,
                section,
                TYPE_SHOW,
                page_size,
                lambda page: [catalog.add_show(i) for i in page if i.type == "show"],
            )

    def take(page: list[PlexItem]) -> None:
        items = catalog.items
        states = listing.states
        for item in page:
            if item.type not in ("movie", "episode"):
                continue
            entry = items.get(item.rating_key)
            if entry is None:
                entry = catalog.add(item)
            entry.mask |= bit
            state = state_of(item)
            if state is not None:
                states[item.rating_key] = state
        listing.compared += len(page)
        if on_items is not None:
            on_items(len(page))

    scans = [(s, TYPE_MOVIE) for s in movie_sections] + [(s, TYPE_EPISODE) for s in show_sections]
    counts = await asyncio.gather(*(_scan(client, token, s, t, page_size, take) for s, t in scans))
    listing.pages += sum(counts) + 1
    return listing
