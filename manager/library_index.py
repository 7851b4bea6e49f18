"""Per-server index of movies, shows, seasons and episodes: find "the same item" fast.

Built by paging every movie and show section with includeGuids=1 (the admin token, pages
of 1000, the client's bounded concurrency), then answering lookups from memory:

1. the same `plex://` guid, else
2. any shared external id (imdb/tmdb/tvdb, legacy agent guids included), else
3. for episodes and seasons: the show by its ids, then the season/episode numbers.

Lean by design: one slotted PlexItem per entry, dict keys are the items' own id strings,
and a key maps to a bare item unless several libraries hold the same thing. The user
state inside indexed items is the admin's at build time: read state from the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from manager.guids import ItemIdentity, identity_of, parse_legacy_guid, show_identity
from manager.logs import get_logger
from manager.plex.models import (
    TYPE_EPISODE,
    TYPE_MOVIE,
    TYPE_SEASON,
    TYPE_SHOW,
    PlexItem,
    Section,
)
from manager.plex.server_client import DEFAULT_PAGE_SIZE, PlexServerClient

log = get_logger("manager.library_index")

Entry = PlexItem | list[PlexItem]
NEVER_BUILT_RETRY = 10.0  # seconds between build attempts while no build has succeeded


def _add(table: dict[str, Entry], key: str, item: PlexItem) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = item
    elif isinstance(existing, list):
        if item not in existing:
            existing.append(item)
    elif existing is not item:
        table[key] = [existing, item]


def _entries(value: Entry | None) -> list[PlexItem]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _own_ids(item: PlexItem) -> Iterable[str]:
    """Every id an item is known by: its plex guid, <Guid>s and a legacy guid's id."""
    if item.guid:
        if item.guid.startswith("plex://"):
            yield item.guid
        elif item.type in ("movie", "show"):
            # Legacy episode/season guids name the show: they are not the item's own id.
            legacy = parse_legacy_guid(item.guid)
            if legacy is not None:
                yield legacy.external_id
    yield from item.guids


@dataclass
class _Tables:
    movies: dict[str, Entry] = field(default_factory=dict)
    shows: dict[str, Entry] = field(default_factory=dict)
    episodes: dict[str, Entry] = field(default_factory=dict)
    seasons_by_id: dict[str, Entry] = field(default_factory=dict)
    by_key: dict[str, PlexItem] = field(default_factory=dict)
    show_by_key: dict[str, PlexItem] = field(default_factory=dict)
    season_at: dict[tuple[str, int], Entry] = field(default_factory=dict)
    episode_at: dict[tuple[str, int, int], Entry] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, item: PlexItem) -> None:
        kind = item.type
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.by_key[item.rating_key] = item
        if kind == "movie":
            for key in _own_ids(item):
                _add(self.movies, key, item)
        elif kind == "show":
            self.show_by_key[item.rating_key] = item
            for key in _own_ids(item):
                _add(self.shows, key, item)
        elif kind == "season":
            for key in _own_ids(item):
                _add(self.seasons_by_id, key, item)
            if item.parent_rating_key and item.season_index is not None:
                pos = (item.parent_rating_key, item.season_index)
                _add_pos(self.season_at, pos, item)
        elif kind == "episode":
            for key in _own_ids(item):
                _add(self.episodes, key, item)
            show_key = item.grandparent_rating_key
            season, episode = item.season_index, item.episode_index
            if (season is None or episode is None) and item.guid:
                legacy = parse_legacy_guid(item.guid)
                if legacy is not None:
                    season = season if season is not None else legacy.season
                    episode = episode if episode is not None else legacy.episode
            if show_key and season is not None and episode is not None:
                _add_pos(self.episode_at, (show_key, season, episode), item)


def _add_pos[K](table: dict[K, Entry], key: K, item: PlexItem) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = item
    elif isinstance(existing, list):
        existing.append(item)
    else:
        table[key] = [existing, item]


def _in_library(items: list[PlexItem], library_title: str | None) -> list[PlexItem]:
    if library_title is None:
        return items
    wanted = library_title.casefold()
    return [i for i in items if (i.section_title or "").casefold() == wanted]


def _dedup(items: Iterable[PlexItem]) -> list[PlexItem]:
    seen: set[str] = set()
    out: list[PlexItem] = []
    for item in items:
        if item.rating_key not in seen:
            seen.add(item.rating_key)
            out.append(item)
    return out


class LibraryIndex:
    """Index of one server's movie and show libraries.

    `refresh_min_interval`: `find()` rebuilds on a miss at most this often (seconds).
    """

    def __init__(
        self,
        client: PlexServerClient,
        token: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        refresh_min_interval: float = 300.0,
        index_seasons: bool = True,
    ) -> None:
        self.client = client
        self.token = token
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
        return self.client.name

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

    build = refresh

    async def _scan(self, tables: _Tables, section_id: str, title: str, type_code: int) -> None:
        section = Section(id=section_id, type="", title=title, uuid="")
        async for page in self.client.iter_items(self.token, section, type_code, self.page_size):
            for item in page:
                tables.add(item)

    async def _build(self) -> None:
        self._last_attempt = time.monotonic()
        started = time.monotonic()
        tables = _Tables()
        sections = await self.client.sections(self.token)
        scans = []
        for section in sections:
            if section.type == "movie":
                scans.append((section, TYPE_MOVIE))
            elif section.type == "show":
                scans.append((section, TYPE_SHOW))
                if self.index_seasons:
                    scans.append((section, TYPE_SEASON))
                scans.append((section, TYPE_EPISODE))
        # Concurrent scans: the client's per-server semaphore keeps the total gentle.
        await asyncio.gather(*(self._scan(tables, s.id, s.title, t) for s, t in scans))
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

    def item(self, rating_key: str | None) -> PlexItem | None:
        """Any indexed item by rating key: lets a per-user listing (state only) be mapped
        to identities without keeping a second copy of every item."""
        return self._tables.by_key.get(str(rating_key)) if rating_key else None

    def items(self, kind: str | None = None) -> Iterator[PlexItem]:
        """Every indexed item (of one kind: movie, show, season, episode)."""
        for entry in list(self._tables.by_key.values()):
            if kind is None or entry.type == kind:
                yield entry

    def show(self, rating_key: str | None) -> PlexItem | None:
        """A show of this server by its rating key (for episode identities)."""
        return self._tables.show_by_key.get(rating_key) if rating_key else None

    def identity(self, item: PlexItem) -> ItemIdentity:
        """identity_of(item) with the show's ids filled in from this index."""
        return identity_of(item, self.show(item.show_rating_key))

    def _shows_for(self, ids: Iterable[str]) -> list[PlexItem]:
        t = self._tables
        return _dedup(s for i in ids for s in _entries(t.shows.get(i)))

    def lookup_all(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> list[PlexItem]:
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
        if identity.plex_guid:
            found = _in_library(_entries(table.get(identity.plex_guid)), library_title)
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
                _entries(t.episode_at.get((show.rating_key, identity.season, identity.episode))),
                library_title,
            )
        )

    def lookup(self, identity: ItemIdentity, library_title: str | None = None) -> PlexItem | None:
        """The matching item, or None when this server does not have it."""
        found = self.lookup_all(identity, library_title)
        return found[0] if found else None

    def _lookup_show(self, identity: ItemIdentity, library_title: str | None) -> list[PlexItem]:
        ids = list(identity.external_ids | identity.show_ids)
        if identity.plex_guid:
            first = _in_library(self._shows_for([identity.plex_guid]), library_title)
            if first:
                return first
        return _in_library(self._shows_for(sorted(ids)), library_title)

    def _lookup_season(self, identity: ItemIdentity, library_title: str | None) -> list[PlexItem]:
        t = self._tables
        if identity.plex_guid:
            found = _in_library(_entries(t.seasons_by_id.get(identity.plex_guid)), library_title)
            if found:
                return found
        if identity.season is None:
            return []
        return _dedup(
            i
            for show in _in_library(self._shows_for(sorted(identity.show_ids)), library_title)
            for i in _entries(t.season_at.get((show.rating_key, identity.season)))
        )

    def lookup_show(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> PlexItem | None:
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
    ) -> PlexItem | None:
        """A season: by a season identity, or by a show/episode identity plus a number."""
        if identity.kind != "season":
            number = season if season is not None else identity.season
            show_ids = identity.show_ids
            if identity.kind == "show":
                show_ids = identity.external_ids | (
                    {identity.plex_guid} if identity.plex_guid else set()
                )
            identity = ItemIdentity(
                kind="season", plex_guid=None, show_ids=frozenset(show_ids), season=number
            )
        found = self._lookup_season(identity, library_title)
        return found[0] if found else None

    async def find(
        self, identity: ItemIdentity, library_title: str | None = None
    ) -> PlexItem | None:
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

    lookup_or_refresh = find
