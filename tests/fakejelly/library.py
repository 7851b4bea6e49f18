"""The catalogue one Jellyfin/Emby server holds: libraries, movies, series, seasons, episodes.

Built from the same fixture as the Plex servers, so a title carries the same external ids
everywhere, while every server allocates its own item ids in its dialect's shape.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tests.fakeplex.fixture import ClusterSpec, ServerSpec, hex_id, int_id

TICKS_PER_MS = 10_000
_ARTICLES = ("the ", "a ", "an ")


@dataclass
class JItem:
    id: str
    name: str
    type: str  # CollectionFolder | Movie | Series | Season | Episode
    key: str  # catalogue key ("matrix", "office", "office/s01", "office/s01e02"); view: "lib:<id>"
    library_id: str
    parent_id: str | None
    runtime_ticks: int | None = None
    year: int | None = None
    provider_ids: dict[str, str] = field(default_factory=dict)
    series: JItem | None = None
    season: JItem | None = None
    index: int | None = None
    parent_index: int | None = None
    collection_type: str | None = None  # views only: movies | tvshows
    children: list[JItem] = field(default_factory=list)
    section_id: int = 0

    @property
    def is_leaf(self) -> bool:
        return self.type in ("Movie", "Episode")

    @property
    def leaves(self) -> list[JItem]:
        """The playable items under (or equal to) this one, in order."""
        if self.is_leaf:
            return [self]
        out: list[JItem] = []
        for c in self.children:
            out.extend(c.leaves)
        return out

    @property
    def sort_name(self) -> str:
        if self.type == "Episode" and self.series is not None:
            return f"{self.series.sort_name} {self.parent_index:04d} {self.index:04d}"
        if self.type == "Season" and self.series is not None:
            return f"{self.series.sort_name} {self.index:04d}"
        low = self.name.lower()
        for art in _ARTICLES:  # both servers sort "The Matrix" under M
            if low.startswith(art):
                return low[len(art) :]
        return low

    @property
    def user_data_key(self) -> str:
        """The Key field of UserData: the servers derive it from the external ids."""
        if self.type == "Episode" and self.series is not None:
            tvdb = self.series.provider_ids.get("Tvdb", self.series.id)
            return f"{tvdb}{self.parent_index:03d}{self.index:03d}"
        if self.type == "Season" and self.series is not None:
            return f"{self.series.provider_ids.get('Tvdb', self.series.id)}{self.index:03d}"
        ids = self.provider_ids
        return ids.get("Tmdb") or ids.get("Tvdb") or ids.get("Imdb") or self.id


def _ids(imdb: str | None, tmdb: int | None, tvdb: int | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    if imdb:
        out["Imdb"] = str(imdb)
    if tmdb:
        out["Tmdb"] = str(tmdb)
    if tvdb:
        out["Tvdb"] = str(tvdb)
    return out


class Catalogue:
    """Item ids: Jellyfin 32-hex (a GUID in "N" form), Emby numeric strings counted up from a
    per-server base; both derived from the fixture so a restart gives the same ids."""

    def __init__(self, cluster: ClusterSpec, spec: ServerSpec, dialect: str) -> None:
        self.dialect = dialect
        self._seed = cluster.seed
        self._server = spec.name
        self._next = itertools.count(int_id(10_000, 900_000, cluster.seed, "emby", spec.name))
        self.items: dict[str, JItem] = {}
        self.by_key: dict[str, JItem] = {}
        self.views: list[JItem] = []
        for sec in spec.sections:
            view = self._add(
                JItem(
                    id=self._new_id("view", sec.id),
                    name=sec.title,
                    type="CollectionFolder",
                    key=f"lib:{sec.id}",
                    library_id="",
                    parent_id=None,
                    collection_type="movies" if sec.type == "movie" else "tvshows",
                    section_id=sec.id,
                )
            )
            view.library_id = view.id
            self.views.append(view)
            for ref in sec.items:
                if sec.type == "movie":
                    self._add_movie(view, cluster, ref.key)
                else:
                    self._add_show(view, cluster, ref.key, ref.seasons)

    def _new_id(self, *parts: object) -> str:
        if self.dialect == "emby":
            return str(next(self._next))
        return hex_id(32, self._seed, self._server, *parts)

    def _add(self, item: JItem) -> JItem:
        self.items[item.id] = item
        if not item.key.startswith("lib:"):
            self.by_key[item.key] = item
        return item

    def _add_movie(self, view: JItem, cluster: ClusterSpec, key: str) -> None:
        m = cluster.movies[key]
        item = JItem(
            id=self._new_id("item", key),
            name=m.title,
            type="Movie",
            key=key,
            library_id=view.id,
            parent_id=view.id,
            runtime_ticks=m.duration * TICKS_PER_MS,
            year=m.year,
            provider_ids=_ids(m.imdb, m.tmdb),
            section_id=view.section_id,
        )
        view.children.append(self._add(item))

    def _add_show(
        self, view: JItem, cluster: ClusterSpec, key: str, only: list[int] | None
    ) -> None:
        s = cluster.shows[key]
        series = self._add(
            JItem(
                id=self._new_id("item", key),
                name=s.title,
                type="Series",
                key=key,
                library_id=view.id,
                parent_id=view.id,
                year=s.year,
                provider_ids=_ids(s.imdb, s.tmdb, s.tvdb),
                section_id=view.section_id,
            )
        )
        view.children.append(series)
        seasons: dict[int, JItem] = {}
        for ep in s.episodes:
            if only is not None and ep.season not in only:
                continue
            season = seasons.get(ep.season)
            if season is None:
                skey = f"{key}/s{ep.season:02d}"
                season = seasons[ep.season] = self._add(
                    JItem(
                        id=self._new_id("item", skey),
                        name=f"Season {ep.season}",
                        type="Season",
                        key=skey,
                        library_id=view.id,
                        parent_id=series.id,
                        series=series,
                        index=ep.season,
                        section_id=view.section_id,
                    )
                )
                series.children.append(season)
            episode = JItem(
                id=self._new_id("item", ep.key),
                name=ep.title,
                type="Episode",
                key=ep.key,
                library_id=view.id,
                parent_id=season.id,
                runtime_ticks=ep.duration * TICKS_PER_MS,
                provider_ids=_ids(ep.imdb, ep.tmdb, ep.tvdb),
                series=series,
                season=season,
                index=ep.index,
                parent_index=ep.season,
                section_id=view.section_id,
            )
            season.children.append(self._add(episode))

    def remove(self, item_id: str) -> None:
        """Drop an item and everything under it (a title deleted from the server)."""
        item = self.items[item_id]
        for leaf in [item, *self._descendants(item)]:
            self.items.pop(leaf.id, None)
            self.by_key.pop(leaf.key, None)
        parent = self.items.get(item.parent_id or "")
        if parent is not None:
            parent.children = [c for c in parent.children if c.id != item_id]

    def _descendants(self, item: JItem) -> list[JItem]:
        out: list[JItem] = []
        for c in item.children:
            out.append(c)
            out.extend(self._descendants(c))
        return out

    def descendants(self, item: JItem) -> list[JItem]:
        return self._descendants(item)
