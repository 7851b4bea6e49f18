"""Who an item *is*, independent of the server, and the keys the cluster knows it by.

An item is known by its kind's own guid where it has one (Plex's `plex://…`), by external
ids (`imdb://`, `tmdb://`, `tvdb://`, normalised here whatever a server calls them), and an
episode or season also by its show's ids plus its numbers. Each kind's reader fills these
in (Plex's legacy agent guids are taken apart under `servers/plex/`).

Every item key of the cluster is built in this module and nowhere else:
`movie:<id>`, `show:<id>`, `season:<id>`, `episode:<id>` for an item's own ids;
`season:<show id>/s<n>` and `episode:<show id>/s<n>e<m>` by show and numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from manager.model import ItemKey
from manager.servers.models import EPISODE, SEASON, SHOW, MediaItem

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
EXTERNAL_NAMESPACES = frozenset(_NAMESPACES.values())

# Most widely shared id first: older Plex movie agents mostly used IMDb, TV agents TheTVDB.
_MOVIE_PRIORITY = ("imdb", "tmdb", "tvdb")
_SHOW_PRIORITY = ("tvdb", "tmdb", "imdb")
_EPISODE_PRIORITY = ("tvdb", "imdb", "tmdb")


@dataclass(frozen=True, slots=True)
class ItemIdentity:
    kind: str  # movie | show | season | episode
    guid: str | None  # the kind's own cross-server guid (MediaItem.guid)
    external_ids: frozenset[str] = frozenset()
    show_ids: frozenset[str] = frozenset()  # the show's guid and external ids
    season: int | None = None
    episode: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing can find this item on another server."""
        if self.guid or self.external_ids:
            return False
        if self.kind == EPISODE:
            return not (self.show_ids and self.season is not None and self.episode is not None)
        if self.kind == SEASON:
            return not (self.show_ids and self.season is not None)
        return True


def external_id(namespace: str, value: str | None) -> str | None:
    """ "imdb", "tt0111161" → "imdb://tt0111161"; None for a namespace we do not match on."""
    ns = _NAMESPACES.get(namespace.strip().lower())
    if ns is None or value is None:
        return None
    value = value.split("?", 1)[0].strip().strip("/")
    if not value:
        return None
    if ns == "imdb":
        value = value.lower()
    return f"{ns}://{value}"


def normalize_guid(raw: str | None) -> str | None:
    """ "imdb://tt…" / "themoviedb://…" / "thetvdb://…" → the normalised external id."""
    if not raw or "://" not in raw:
        return None
    scheme, _, rest = raw.strip().partition("://")
    return external_id(scheme, rest)


def is_external(value: str) -> bool:
    return value.partition("://")[0] in EXTERNAL_NAMESPACES


def identity_of(item: MediaItem, show: MediaItem | None = None) -> ItemIdentity:
    """Identity of a movie, show, season or episode.

    For episodes and seasons pass the show when you have it: without it only the ids the
    item itself names for its show are known, which may not be shared across agents.
    """
    show_ids = set(item.show_ids)
    if show is not None and item.kind in (EPISODE, SEASON):
        if show.guid:
            show_ids.add(show.guid)
        show_ids.update(show.external_ids)
    return ItemIdentity(
        kind=item.kind,
        guid=item.guid,
        external_ids=frozenset(item.external_ids),
        show_ids=frozenset(show_ids),
        season=item.season_number,
        episode=item.episode_number if item.kind == EPISODE else None,
    )


def show_identity(identity: ItemIdentity) -> ItemIdentity:
    """The identity of the show an episode or season belongs to."""
    guid = next((i for i in sorted(identity.show_ids) if not is_external(i)), None)
    return ItemIdentity(
        kind=SHOW,
        guid=guid,
        external_ids=frozenset(i for i in identity.show_ids if is_external(i)),
    )


def season_identity(show: ItemIdentity, season: int | None) -> ItemIdentity:
    """A season of a show (or of the show an episode or season belongs to), by number."""
    show_ids = show.show_ids
    if show.kind == SHOW:
        show_ids = show.external_ids | ({show.guid} if show.guid else frozenset())
    return ItemIdentity(kind=SEASON, guid=None, show_ids=frozenset(show_ids), season=season)


def _ranked(ids: Iterable[str], priority: tuple[str, ...]) -> list[str]:
    """Ids ordered by namespace priority, then kind guids, then other external ids."""
    order = {ns: n for n, ns in enumerate(priority)}
    guid_rank = len(priority)

    def rank(value: str) -> tuple[int, str]:
        ns = value.partition("://")[0]
        if ns not in EXTERNAL_NAMESPACES:
            return (guid_rank, value)
        return (order.get(ns, guid_rank + 1), value)

    return sorted(ids, key=rank)


def identity_keys(identity: ItemIdentity) -> list[ItemKey]:
    """Every stable key this identity can be known by, best first.

    Two servers using different agents may share only some ids: a ledger that stores the
    first key and looks up by all of them finds the same record from either side.
    """
    kind = identity.kind
    keys: list[ItemKey] = []
    if kind == EPISODE and identity.season is not None and identity.episode is not None:
        for show_id in _ranked(identity.show_ids, _SHOW_PRIORITY):
            keys.append(ItemKey(f"episode:{show_id}/s{identity.season}e{identity.episode}"))
    if kind == SEASON and identity.season is not None:
        for show_id in _ranked(identity.show_ids, _SHOW_PRIORITY):
            keys.append(ItemKey(f"season:{show_id}/s{identity.season}"))
    priority = {"movie": _MOVIE_PRIORITY, SHOW: _SHOW_PRIORITY}.get(kind, _EPISODE_PRIORITY)
    own = set(identity.external_ids)
    if identity.guid:
        own.add(identity.guid)
    keys.extend(ItemKey(f"{kind}:{i}") for i in _ranked(own, priority))
    return keys


def identity_key(identity: ItemIdentity) -> ItemKey:
    """The one stable key for the ledger (see identity_keys for the alternatives).

    Raises ValueError for an item with no identity (Plex's local:// and the like): such an
    item cannot be matched on another server, so it has no business in the ledger.
    """
    keys = identity_keys(identity)
    if not keys:
        raise ValueError(f"{identity.kind} has no guid or external id to key it by")
    return keys[0]


def parent_keys(identity: ItemIdentity) -> list[ItemKey]:
    """The keys of the show (and season) an episode or season belongs to: a show-level
    or season-level change is recorded under these and speaks for the item too."""
    if identity.kind not in (EPISODE, SEASON) or not identity.show_ids:
        return []
    keys = identity_keys(show_identity(identity))
    if identity.kind == EPISODE and identity.season is not None:
        keys += identity_keys(season_identity(identity, identity.season))
    return keys


def season_key(show_key: ItemKey, season: int | None) -> ItemKey:
    """The season-level key under a show's key ("show:tvdb://1" → "season:tvdb://1/s2")."""
    return ItemKey(f"season:{show_key.partition(':')[2]}/s{season}")


def local_show_key(server: str, show_id: str) -> ItemKey:
    """A key for a show that has no identity: valid on its own server only."""
    return ItemKey(f"{SHOW}:{server}/{show_id}")


def copy_key(key: ItemKey, item_id: str) -> ItemKey:
    """One of several copies of the same item on one server: each is written on its own."""
    return ItemKey(f"{key}{_COPY}{item_id}")


def item_key_of(key: ItemKey) -> ItemKey:
    """The item's key, from a key that may name one of its copies (copy_key)."""
    return ItemKey(key.split(_COPY, 1)[0])


_COPY = "@"
