"""Plex's item guids, taken apart into the cluster's identity fields.

Plex's new agents give every item a `plex://<type>/<hex>` guid plus `<Guid id="imdb://…">`
children (`tmdb://`, `tvdb://`). Legacy agents put one id into the guid itself:
`com.plexapp.agents.imdb://tt0111161?lang=en`, `com.plexapp.agents.themoviedb://278`,
`com.plexapp.agents.thetvdb://<show>/<season>/<episode>?lang=en`. For a movie or show
that id is the item's own; for a season or episode it names the show, then the numbers.
`local://N` and the "none"/"localmedia" agents carry no identity at all: such an item can
only match itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from manager.servers.identity import external_id

PLEX_GUID_PREFIX = "plex://"
_LEGACY_PREFIX = "com.plexapp.agents."
# Legacy agents whose ids do not say which database they come from.
_NO_IDENTITY_AGENTS = frozenset({"none", "localmedia", "lastfm", "plexmusic"})


@dataclass(frozen=True, slots=True)
class LegacyGuid:
    """A legacy agent guid taken apart: the id names the show for seasons and episodes."""

    external_id: str
    season: int | None = None
    episode: int | None = None


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
        ns = db
        raw_id = value
    elif agent in ("xbmcnfo", "xbmcnfotv"):
        if raw_id.lower().startswith("tt"):
            ns = "imdb"
        else:
            ns = "tvdb" if agent.endswith("tv") else "tmdb"
    elif agent == "imdb" or raw_id.lower().startswith("tt"):
        ns = "imdb"
    else:
        ns = agent
    external = external_id(ns, raw_id)
    if external is None:
        return None
    season = _int_or_none(parts[1]) if len(parts) > 1 else None
    episode = _int_or_none(parts[2]) if len(parts) > 2 else None
    return LegacyGuid(external, season, episode)


def show_ids_from(guid: str | None) -> list[str]:
    """The show ids a show's guid (or an episode's grandparentGuid) stands for."""
    if not guid:
        return []
    if guid.startswith(PLEX_GUID_PREFIX):
        return [guid]
    legacy = parse_legacy_guid(guid)
    return [legacy.external_id] if legacy else []
