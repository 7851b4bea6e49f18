"""One server's library: builds its sections and items from the fixture, adds and removes
items, and indexes them by ratingKey and catalogue key."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from .fixture import (
    LEGACY_MOVIE_AGENTS,
    LEGACY_SHOW_AGENTS,
    ClusterSpec,
    MovieSpec,
    SectionSpec,
    ServerSpec,
    ShowSpec,
)
from .items import BASE_TIME, Item, Section


def title_sort(title: str) -> str:
    low = title.lower()
    for article in ("the ", "a ", "an "):
        if low.startswith(article):
            return title[len(article) :]
    return title


class Library:
    """All sections and items of one server, indexed by ratingKey."""

    def __init__(self, cluster: ClusterSpec, server: ServerSpec) -> None:
        self.items: dict[str, Item] = {}
        self.sections: dict[int, Section] = {}
        self.by_catalog: dict[str, Item] = {}
        self._next_rk = server.first_rating_key
        self._next_media = 1
        for sspec in server.sections:
            self._build_section(cluster, server, sspec)

    def _rk(self) -> str:
        rk = str(self._next_rk)
        self._next_rk += 1
        return rk

    def _build_section(self, cluster: ClusterSpec, server: ServerSpec, s: SectionSpec) -> None:
        legacy = s.agent in (LEGACY_MOVIE_AGENTS if s.type == "movie" else LEGACY_SHOW_AGENTS)
        sec = Section(
            id=s.id,
            title=s.title,
            type=s.type,
            agent=s.agent,
            uuid=str(uuidlib.UUID(hex=server.machine_identifier[:24] + f"{s.id:08x}")),
            legacy=legacy,
        )
        if s.id in self.sections:
            raise ValueError(f"duplicate section id {s.id} on {server.name}")
        self.sections[s.id] = sec
        types = ["movie"] if s.type == "movie" else ["show", "season", "episode"]
        sec.by_type = {t: [] for t in types}
        for ref in s.items:
            if s.type == "movie":
                self.add_movie(sec, cluster.movies[ref.key], match=ref.match)
            else:
                self.add_show(sec, cluster.shows[ref.key], ref.seasons, match=ref.match)
        self.resort(sec)

    def resort(self, sec: Section) -> None:
        for lst in sec.by_type.values():
            lst.sort(key=lambda it: it.sort_key)

    def _register(self, item: Item) -> Item:
        item.finalize()
        self.items[item.rating_key] = item
        self.by_catalog[item.catalog_key] = item
        item.section.by_type[item.type].append(item)
        return item

    def _section_attrs(self, sec: Section) -> dict[str, Any]:
        return {
            "librarySectionID": sec.id,
            "librarySectionTitle": sec.title,
            "librarySectionKey": f"/library/sections/{sec.id}",
        }

    def _media(self, item: Item, folder: str, filename: str) -> None:
        mid = self._next_media
        self._next_media += 1
        size = (item.duration or 0) * 1000
        media = {
            "id": mid,
            "duration": item.duration,
            "bitrate": 8000,
            "width": 1920,
            "height": 1080,
            "aspectRatio": 1.78,
            "audioChannels": 6,
            "audioCodec": "eac3",
            "videoCodec": "h264",
            "videoResolution": "1080",
            "container": "mkv",
            "videoFrameRate": "24p",
        }
        part = {
            "id": mid,
            "key": f"/library/parts/{mid}/{BASE_TIME}/file.mkv",
            "duration": item.duration,
            "file": f"{folder}/{filename}.mkv",
            "size": size,
            "container": "mkv",
        }
        item.media_json = [{**media, "Part": [part]}]

    def add_movie(self, sec: Section, m: MovieSpec, *, match: str | None = None) -> Item:
        rk = self._rk()
        mode = match or ("legacy" if sec.legacy else "new")
        if mode == "none":  # unmatched: a local guid, no external ids at all
            guid = f"local://{rk}"
            guids: list[str] = []
        elif mode == "legacy":
            guid = (
                f"com.plexapp.agents.imdb://{m.imdb}?lang=en"
                if m.imdb
                else f"com.plexapp.agents.themoviedb://{m.tmdb}?lang=en"
            )
            guids = []  # legacy-agent items carry no <Guid> children
        else:
            guid = f"plex://movie/{m.plex}"
            guids = _ext(m.imdb, m.tmdb, None)
        added = BASE_TIME + int(rk)
        ts = title_sort(m.title)
        item = Item(
            rating_key=rk,
            type="movie",
            title=m.title,
            sort_key=(ts.lower(), int(rk)),
            section=sec,
            guid=guid,
            guids=guids,
            catalog_key=m.key,
            duration=m.duration,
        )
        item.attrs = {
            "ratingKey": rk,
            "key": f"/library/metadata/{rk}",
            "guid": guid,
            "studio": "Fake Studios",
            "type": "movie",
            "title": m.title,
            "titleSort": ts if ts != m.title else None,
            **self._section_attrs(sec),
            "contentRating": "PG-13",
            "summary": f"{m.title} is a film.",
            "year": m.year,
            "thumb": f"/library/metadata/{rk}/thumb/{added}",
            "duration": m.duration,
            "originallyAvailableAt": f"{m.year}-01-01" if m.year else None,
            "addedAt": added,
            "updatedAt": added,
        }
        label = f"{m.title} ({m.year})" if m.year else m.title
        self._media(item, f"/data/movies/{label}", label)
        return self._register(item)

    def add_show(
        self, sec: Section, s: ShowSpec, seasons: list[int] | None, *, match: str | None = None
    ) -> Item:
        rk = self._rk()
        eps = [e for e in s.episodes if seasons is None or e.season in seasons]
        mode = match or ("legacy" if sec.legacy else "new")
        if mode == "none":
            guid = f"local://{rk}"
            guids: list[str] = []
        elif mode == "legacy":
            guid = f"com.plexapp.agents.thetvdb://{s.tvdb}?lang=en"
            guids = []
        else:
            guid = f"plex://show/{s.plex}"
            guids = _ext(s.imdb, s.tmdb, s.tvdb)
        ts = title_sort(s.title)
        added = BASE_TIME + int(rk)
        show = Item(
            rating_key=rk,
            type="show",
            title=s.title,
            sort_key=(ts.lower(), int(rk)),
            section=sec,
            guid=guid,
            guids=guids,
            catalog_key=s.key,
            duration=eps[0].duration if eps else None,
        )
        season_nums = sorted({e.season for e in eps})
        show.attrs = {
            "ratingKey": rk,
            "key": f"/library/metadata/{rk}/children",
            "guid": guid,
            "studio": "Fake Network",
            "type": "show",
            "title": s.title,
            "titleSort": ts if ts != s.title else None,
            **self._section_attrs(sec),
            "contentRating": "TV-14",
            "summary": f"{s.title} is a series.",
            "index": 1,
            "year": s.year,
            "thumb": f"/library/metadata/{rk}/thumb/{added}",
            "duration": show.duration,
            "originallyAvailableAt": f"{s.year}-01-01" if s.year else None,
            "leafCount": len(eps),
            "childCount": len(season_nums),
            "addedAt": added,
            "updatedAt": added,
        }
        self._register(show)
        for snum in season_nums:
            srk = self._rk()
            if mode == "none":
                sguid = f"local://{srk}"
            elif mode == "legacy":
                sguid = f"com.plexapp.agents.thetvdb://{s.tvdb}/{snum}?lang=en"
            else:
                sguid = f"plex://season/{s.season_plex[snum]}"
            season_eps = [e for e in eps if e.season == snum]
            season = Item(
                rating_key=srk,
                type="season",
                title=f"Season {snum}",
                sort_key=(ts.lower(), int(rk), snum),
                section=sec,
                guid=sguid,
                guids=[],
                catalog_key=f"{s.key}/s{snum:02d}",
                duration=None,
                parent=show,
            )
            season.attrs = {
                "ratingKey": srk,
                "key": f"/library/metadata/{srk}/children",
                "parentRatingKey": rk,
                "guid": sguid,
                "parentGuid": guid,
                "type": "season",
                "title": f"Season {snum}",
                "parentKey": f"/library/metadata/{rk}",
                "parentTitle": s.title,
                **self._section_attrs(sec),
                "summary": "",
                "index": snum,
                "parentIndex": 1,
                "thumb": f"/library/metadata/{srk}/thumb/{added}",
                "leafCount": len(season_eps),
                "addedAt": added,
                "updatedAt": added,
            }
            self._register(season)
            show.children.append(season)
            for e in season_eps:
                erk = self._rk()
                if mode == "none":
                    eguid = f"local://{erk}"
                elif mode == "legacy":
                    eguid = f"com.plexapp.agents.thetvdb://{s.tvdb}/{snum}/{e.index}?lang=en"
                else:
                    eguid = f"plex://episode/{e.plex}"
                ep = Item(
                    rating_key=erk,
                    type="episode",
                    title=e.title,
                    sort_key=(ts.lower(), int(rk), snum, e.index),
                    section=sec,
                    guid=eguid,
                    guids=_ext(e.imdb, e.tmdb, e.tvdb) if mode == "new" else [],
                    catalog_key=e.key,
                    duration=e.duration,
                    parent=season,
                )
                eadded = BASE_TIME + int(erk)
                ep.attrs = {
                    "ratingKey": erk,
                    "key": f"/library/metadata/{erk}",
                    "parentRatingKey": srk,
                    "grandparentRatingKey": rk,
                    "guid": eguid,
                    "parentGuid": sguid,
                    "grandparentGuid": guid,
                    "type": "episode",
                    "title": e.title,
                    "grandparentKey": f"/library/metadata/{rk}",
                    "parentKey": f"/library/metadata/{srk}",
                    **self._section_attrs(sec),
                    "grandparentTitle": s.title,
                    "parentTitle": f"Season {snum}",
                    "contentRating": "TV-14",
                    "summary": "",
                    "index": e.index,
                    "parentIndex": snum,
                    "year": s.year,
                    "thumb": f"/library/metadata/{erk}/thumb/{eadded}",
                    "duration": e.duration,
                    "addedAt": eadded,
                    "updatedAt": eadded,
                }
                code = f"S{snum:02d}E{e.index:02d}"
                self._media(ep, f"/data/tv/{s.title}/Season {snum:02d}", f"{s.title} - {code}")
                self._register(ep)
                season.children.append(ep)
                season.leaves.append(ep)
                show.leaves.append(ep)
        return show

    def remove(self, rating_key: str) -> None:
        item = self.items.pop(rating_key)
        self.by_catalog.pop(item.catalog_key, None)
        lst = item.section.by_type[item.type]
        lst.remove(item)
        for child in list(item.children):
            self.remove(child.rating_key)
        if item.parent is not None:
            item.parent.children.remove(item)
            for anc in (item.parent, item.parent.parent):
                if anc is None:
                    continue
                anc.leaves[:] = [x for x in anc.leaves if x.rating_key in self.items]
                anc.attrs["leafCount"] = len(anc.leaves)
                if anc.type == "show":
                    anc.attrs["childCount"] = len(anc.children)
                anc.finalize()


def _ext(imdb: str | None, tmdb: int | None, tvdb: int | None) -> list[str]:
    out = []
    if imdb:
        out.append(f"imdb://{imdb}")
    if tmdb:
        out.append(f"tmdb://{tmdb}")
    if tvdb:
        out.append(f"tvdb://{tvdb}")
    return out
