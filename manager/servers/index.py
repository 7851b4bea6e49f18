"""Per-server index of movies, shows, seasons and episodes: find "the same item" fast.

Built by paging every movie and show library with the owner's credential (pages of 1000,
the server's bounded concurrency), then answering lookups from memory:

1. the same kind guid (Plex's `plex://`), else
2. any shared external id (imdb/tmdb/tvdb), else
3. for episodes and seasons: the show by its ids, then the season/episode numbers.

Lean by design: one slotted MediaItem per entry, dict keys are the items' own id strings,
and a key maps to a bare item unless several libraries hold the same thing. The user
state inside indexed items is the owner's at build time: read state from the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from manager.concurrently import all_or_cancel
from manager.logs import get_logger
from manager.servers.identity import ItemIdentity, identity_of, season_identity, show_identity
from manager.servers.interface import DEFAULT_PAGE_SIZE, MediaServer
from manager.servers.models import EPISODE, MOVIE, SEASON, SHOW, Credential, Library, MediaItem

log = get_logger("manager.servers.index")

Entry = MediaItem | list[MediaItem]
NEVER_BUILT_RETRY = 10.0  # seconds between build attempts while no build has succeeded


def _add(table: dict[str, Entry], key: str, item: MediaItem) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = item
    elif isinstance(existing, list):
        if item not in existing:
            existing.append(item)
    elif existing is not item:
        table[key] = [existing, item]


def _entries(value: Entry | None) -> list[MediaItem]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _own_ids(item: MediaItem) -> Iterable[str]:
    """Every id an item is known by: its kind guid and external ids."""
    if item.guid:
        yield item.guid
    yield from item.external_ids


@dataclass
class _Tables:
    movies: dict[str, Entry] = field(default_factory=dict)
    shows: dict[str, Entry] = field(default_factory=dict)
    episodes: dict[str, Entry] = field(default_factory=dict)
    seasons_by_id: dict[str, Entry] = field(default_factory=dict)
    by_key: dict[str, MediaItem] = field(default_factory=dict)
    show_by_key: dict[str, MediaItem] = field(default_factory=dict)
    season_at: dict[tuple[str, int], Entry] = field(default_factory=dict)
    episode_at: dict[tuple[str, int, int], Entry] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, item: MediaItem) -> None:
        kind = item.kind
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.by_key[item.id] = item
        if kind == MOVIE:
            for key in _own_ids(item):
                _add(self.movies, key, item)
        elif kind == SHOW:
            self.show_by_key[item.id] = item
            for key in _own_ids(item):
                _add(self.shows, key, item)
        elif kind == SEASON:
            for key in _own_ids(item):
                _add(self.seasons_by_id, key, item)
            if item.show_id and item.season_number is not None:
                _add_pos(self.season_at, (item.show_id, item.season_number), item)
        elif kind == EPISODE:
            for key in _own_ids(item):
                _add(self.episodes, key, item)
            season, episode = item.season_number, item.episode_number
            if item.show_id and season is not None and episode is not None:
                _add_pos(self.episode_at, (item.show_id, season, episode), item)


def _add_pos[K](table: dict[K, Entry], key: K, item: MediaItem) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = item
    elif isinstance(existing, list):
        existing.append(item)
    else:
        table[key] = [existing, item]


def _in_library(items: list[MediaItem], library_title: str | None) -> list[MediaItem]:
    if library_title is None:
        return items
    wanted = library_title.casefold()
    return [i for i in items if (i.library or "").casefold() == wanted]


def _dedup(items: Iterable[MediaItem]) -> list[MediaItem]:
    seen: set[str] = set()
    out: list[MediaItem] = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            out.append(item)
    return out


class LibraryIndex:
    """Index of one server's movie and show libraries.

    `refresh_min_interval`: `find()` rebuilds on a miss at most this often (seconds).
    """

    def __init__(
        self,
        server: MediaServer,
        credential: Credential,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        refresh_min_interval: float = 300.0,
        index_seasons: bool = True,
    ) -> None:
        self.server = server
        self.credential = credential
        self.page_size = page_size
        self.refresh_min_interval = refresh_min_interval
        self.index_seasons = index_seasons
        self.built_at: float | None = None  # wall clock of the last successful build
        self.build_seconds: float | None = None
        self._tables = _Tables()
        self._last_attempt = float("-inf")  # monotonic
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._tables.counts)

    def __len__(self) -> int:
        return sum(self._tables.counts.values())

    # --- building ----------------------------------------------------------------------

    async def refresh(self) -> None:
        """Rebuild from the server; concurrent callers share one rebuild."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._build())
        await asyncio.shield(self._refreshing)

    async def _scan(self, tables: _Tables, library: Library, kind: str) -> None:
        async for page in self.server.items(self.credential, library, kind, self.page_size):
            for item in page:
                tables.add(item)

    async def _build(self) -> None:
        self._last_attempt = time.monotonic()
        started = time.monotonic()
        tables = _Tables()
        sections = await self.server.libraries(self.credential)
        scans: list[tuple[Library, str]] = []
        for section in sections:
            if section.kind == MOVIE:
                scans.append((section, MOVIE))
            elif section.kind == SHOW:
                scans.append((section, SHOW))
                if self.index_seasons:
                    scans.append((section, SEASON))
                scans.append((section, EPISODE))
        # Concurrent scans: the server's bounded concurrency keeps the total gentle.
        await all_or_cancel(*(self._scan(tables, s, k) for s, k in scans))
        self._tables = tables  # swap whole: lookups never see a half-built index
        self.built_at = time.time()
        self.build_seconds = time.monotonic() - started
        log.info(
            "library index built",
            server=self.name,
            sections=len(sections),
            items=sum(tables.counts.values()),
            seconds=round(self.build_seconds, 3),
        )

    # --- lookups -----------------------------------------------------------------------

    def item(self, item_id: str | None) -> MediaItem | None:
        """Any indexed item by id: lets a per-user listing (state only) be mapped
        to identities without keeping a second copy of every item."""
        return self._tables.by_key.get(str(item_id)) if item_id else None

    def items(self, kind: str | None = None) -> Iterator[MediaItem]:
        """Every indexed item (of one kind: movie, show, season, episode)."""
        for entry in list(self._tables.by_key.values()):
            if kind is None or entry.kind == kind:
                yield entry

    def episodes_under(self, container_id: str) -> list[MediaItem]:
        """The indexed episodes of a show or season, by its id."""
        t = self._tables
        return [
            i
            for i in t.by_key.values()
            if i.kind == EPISODE and container_id in (i.show_id, i.season_id)
        ]

    def show(self, show_id: str | None) -> MediaItem | None:
        """A show of this server by its id (for episode identities)."""
        return self._tables.show_by_key.get(show_id) if show_id else None

    def identity(self, item: MediaItem) -> ItemIdentity:
        """identity_of(item) with the show's ids filled in from this index."""
        return identity_of(item, self.show(item.show_id))

    def _shows_for(self, ids: Iterable[str]) -> list[MediaItem]:
        t = self._tables
        return _dedup(s for i in ids for s in _entries(t.shows.get(i)))

    def lookup_all(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> list[MediaItem]:
        """Every matching item (one per library that holds it), best rule first."""
        t = self._tables
        kind = identity.kind
        if kind == "show":
            return self._lookup_show(identity, library_title)
        if kind == "season":
            return self._lookup_season(identity, library_title)
        table = t.movies if kind == "movie" else t.episodes if kind == "episode" else None
        if table is None:
            return []
        if identity.guid:
            found = _in_library(_entries(table.get(identity.guid)), library_title)
            if found:
                return found
        found = _dedup(
            i
            for ext in sorted(identity.external_ids)
            for i in _in_library(_entries(table.get(ext)), library_title)
        )
        if found or kind != "episode":
            return found
        if identity.season is None or identity.episode is None:
            return []
        return _dedup(
            i
            for show in self._shows_for(identity.show_ids)
            for i in _in_library(
                _entries(t.episode_at.get((show.id, identity.season, identity.episode))),
                library_title,
            )
        )

    def lookup(self, identity: ItemIdentity, library_title: str | None = None) -> MediaItem | None:
        """The matching item, or None when this server does not have it."""
        found = self.lookup_all(identity, library_title)
        return found[0] if found else None

    def _lookup_show(self, identity: ItemIdentity, library_title: str | None) -> list[MediaItem]:
        ids = list(identity.external_ids | identity.show_ids)
        if identity.guid:
            first = _in_library(self._shows_for([identity.guid]), library_title)
            if first:
                return first
        return _in_library(self._shows_for(sorted(ids)), library_title)

    def _lookup_season(self, identity: ItemIdentity, library_title: str | None) -> list[MediaItem]:
        t = self._tables
        if identity.guid:
            found = _in_library(_entries(t.seasons_by_id.get(identity.guid)), library_title)
            if found:
                return found
        if identity.season is None:
            return []
        return _dedup(
            i
            for show in _in_library(self._shows_for(sorted(identity.show_ids)), library_title)
            for i in _entries(t.season_at.get((show.id, identity.season)))
        )

    def lookup_show(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> MediaItem | None:
        """The show itself, or the show an episode/season identity belongs to."""
        if identity.kind != "show":
            identity = show_identity(identity)
        found = self._lookup_show(identity, library_title)
        return found[0] if found else None

    def lookup_season(
        self,
        identity: ItemIdentity,
        season: int | None = None,
        library_title: str | None = None,
    ) -> MediaItem | None:
        """A season: by a season identity, or by a show/episode identity plus a number."""
        if identity.kind != SEASON:
            number = season if season is not None else identity.season
            identity = season_identity(identity, number)
        found = self._lookup_season(identity, library_title)
        return found[0] if found else None

    async def find(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> MediaItem | None:
        """lookup(); on a miss rebuild first, at most every refresh_min_interval seconds."""
        found = self.lookup(identity, library_title)
        if found is not None or identity.is_empty:
            return found
        interval = self.refresh_min_interval
        if self.built_at is None:
            # Never built (the server was down at start): retry sooner.
            interval = min(interval, NEVER_BUILT_RETRY)
        if time.monotonic() - self._last_attempt < interval:
            return None
        log.info("index miss, refreshing", server=self.name, kind=identity.kind)
        await self.refresh()
        return self.lookup(identity, library_title)
