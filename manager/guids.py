"""Who an item *is*, independent of the server: GUIDs, external ids, show + SxxEyy.

Plex's new agents give every item a `plex://<type>/<hex>` guid plus `<Guid id="imdb://…">`
children (`tmdb://`, `tvdb://`). Legacy agents put one id into the guid itself:
`com.plexapp.agents.imdb://tt0111161?lang=en`, `com.plexapp.agents.themoviedb://278`,
`com.plexapp.agents.thetvdb://<show>/<season>/<episode>?lang=en`. `local://N` and the
"none"/"localmedia" agents carry no identity at all: such an item can only match itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a runtime import would be circular: the parser normalises with us
    from manager.plex.models import PlexItem

# Namespaces we normalise to; every external id is "<ns>://<value>".
_NAMESPACES = {
    "imdb": "imdb",
    "tmdb": "tmdb",
    "themoviedb": "tmdb",
    "tvdb": "tvdb",
    "thetvdb": "tvdb",
    "tvmaze": "tvmaze",
    "anidb": "anidb",
}
_LEGACY_PREFIX = "com.plexapp.agents."
# Legacy agents whose ids do not say which database they come from.
_NO_IDENTITY_AGENTS = frozenset({"none", "localmedia", "lastfm", "plexmusic"})

# Most widely shared id first: legacy movie agents mostly used IMDb, legacy TV agents TheTVDB.
_MOVIE_PRIORITY = ("imdb", "tmdb", "tvdb")
_SHOW_PRIORITY = ("tvdb", "tmdb", "imdb")
_EPISODE_PRIORITY = ("tvdb", "imdb", "tmdb")


@dataclass(frozen=True, slots=True)
class LegacyGuid:
    """A legacy agent guid taken apart: the id names the show for seasons and episodes."""

    external_id: str
    season: int | None = None
    episode: int | None = None


@dataclass(frozen=True, slots=True)
class ItemIdentity:
    kind: str  # movie | show | season | episode
    plex_guid: str | None
    external_ids: frozenset[str] = frozenset()
    show_ids: frozenset[str] = frozenset()  # the show's plex guid and external ids
    season: int | None = None
    episode: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing can find this item on another server."""
        if self.plex_guid or self.external_ids:
            return False
        if self.kind == "episode":
            return not (self.show_ids and self.season is not None and self.episode is not None)
        if self.kind == "season":
            return not (self.show_ids and self.season is not None)
        return True


def normalize_guid(raw: str | None) -> str | None:
    """`<Guid id>` value → "imdb://tt…" / "tmdb://…" / "tvdb://…"; None if not an external id."""
    if not raw or "://" not in raw:
        return None
    scheme, _, rest = raw.strip().partition("://")
    ns = _NAMESPACES.get(scheme.lower())
    if ns is None:
        return None
    value = rest.split("?", 1)[0].strip().strip("/")
    if not value:
        return None
    if ns == "imdb":
        value = value.lower()
    return f"{ns}://{value}"


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_legacy_guid(guid: str | None) -> LegacyGuid | None:
    """Take apart a `com.plexapp.agents.<agent>://<id>[/<season>[/<episode>]]` guid."""
    if not guid or not guid.startswith(_LEGACY_PREFIX) or "://" not in guid:
        return None
    agent, _, rest = guid[len(_LEGACY_PREFIX) :].partition("://")
    agent = agent.lower()
    if agent in _NO_IDENTITY_AGENTS:
        return None
    parts = [p for p in rest.split("?", 1)[0].split("/") if p]
    if not parts:
        return None
    raw_id = parts[0]
    if agent == "hama":
        # HAMA prefixes the database: "tvdb-81189", "anidb-123".
        db, sep, value = raw_id.partition("-")
        if not sep:
            return None
        ns = _NAMESPACES.get(db.lower())
        raw_id = value
    elif agent in ("xbmcnfo", "xbmcnfotv"):
        if raw_id.lower().startswith("tt"):
            ns = "imdb"
        else:
            ns = "tvdb" if agent.endswith("tv") else "tmdb"
    elif agent == "imdb" or raw_id.lower().startswith("tt"):
        ns = "imdb"
    else:
        ns = _NAMESPACES.get(agent)
    if ns is None:
        return None
    external = normalize_guid(f"{ns}://{raw_id}")
    if external is None:
        return None
    season = _int_or_none(parts[1]) if len(parts) > 1 else None
    episode = _int_or_none(parts[2]) if len(parts) > 2 else None
    return LegacyGuid(external, season, episode)


def _show_ids_from(guid: str | None) -> set[str]:
    if not guid:
        return set()
    if guid.startswith("plex://"):
        return {guid}
    legacy = parse_legacy_guid(guid)
    return {legacy.external_id} if legacy else set()


def identity_of(item: PlexItem, show: PlexItem | None = None) -> ItemIdentity:
    """Identity of a movie, show, season or episode.

    For episodes and seasons pass the show (read with includeGuids) when you have it:
    without it only the show's plex guid (or a legacy guid's show id) is known, which
    finds the episode on servers using the same agent but not across agents.
    """
    kind = item.type
    plex_guid = item.guid if item.guid and item.guid.startswith("plex://") else None
    external = set(item.guids)
    show_ids: set[str] = set()
    season = item.season_index
    episode = item.episode_index if kind == "episode" else None
    legacy = parse_legacy_guid(item.guid)

    if kind in ("episode", "season"):
        show_ids |= _show_ids_from(item.show_guid)
        if show is not None:
            show_ids |= _show_ids_from(show.guid)
            show_ids.update(show.guids)
        if legacy is not None:
            # A legacy TV guid names the show, then season (and episode) numbers.
            show_ids.add(legacy.external_id)
            if season is None:
                season = legacy.season
            if kind == "episode" and episode is None:
                episode = legacy.episode
    elif legacy is not None:
        external.add(legacy.external_id)

    return ItemIdentity(
        kind=kind,
        plex_guid=plex_guid,
        external_ids=frozenset(external),
        show_ids=frozenset(show_ids),
        season=season,
        episode=episode,
    )


def show_identity(identity: ItemIdentity) -> ItemIdentity:
    """The identity of the show an episode or season belongs to."""
    plex = next((i for i in identity.show_ids if i.startswith("plex://")), None)
    return ItemIdentity(
        kind="show",
        plex_guid=plex,
        external_ids=frozenset(i for i in identity.show_ids if not i.startswith("plex://")),
    )


def _ranked(ids: frozenset[str], priority: tuple[str, ...]) -> list[str]:
    """Ids ordered by namespace priority, then plex guids, then anything else; stable."""
    order = {ns: n for n, ns in enumerate(priority)}
    plex_rank = len(priority)

    def rank(value: str) -> tuple[int, str]:
        ns = value.partition("://")[0]
        if ns == "plex":
            return (plex_rank, value)
        return (order.get(ns, plex_rank + 1), value)

    return sorted(ids, key=rank)


def identity_keys(identity: ItemIdentity) -> list[str]:
    """Every stable key this identity can be known by, best first.

    Two servers using different agents may share only some ids: a ledger that stores the
    first key and looks up by all of them finds the same record from either side.
    """
    kind = identity.kind
    keys: list[str] = []
    if kind == "episode" and identity.season is not None and identity.episode is not None:
        for show_id in _ranked(identity.show_ids, _SHOW_PRIORITY):
            keys.append(f"episode:{show_id}/s{identity.season}e{identity.episode}")
    if kind == "season" and identity.season is not None:
        for show_id in _ranked(identity.show_ids, _SHOW_PRIORITY):
            keys.append(f"season:{show_id}/s{identity.season}")
    priority = {"movie": _MOVIE_PRIORITY, "show": _SHOW_PRIORITY}.get(kind, _EPISODE_PRIORITY)
    own = set(identity.external_ids)
    if identity.plex_guid:
        own.add(identity.plex_guid)
    keys.extend(f"{kind}:{i}" for i in _ranked(frozenset(own), priority))
    return keys


def identity_key(identity: ItemIdentity) -> str:
    """The one stable key for the ledger (see identity_keys for the alternatives).

    Raises ValueError for an item with no identity (local:// and the like): such an item
    cannot be matched on another server, so it has no business in the ledger.
    """
    keys = identity_keys(identity)
    if not keys:
        raise ValueError(f"{identity.kind} has no guid or external id to key it by")
    return keys[0]
