"""Jellyfin's and Emby's JSON answers into the cluster's models (both speak the same shapes).

Positions and runtimes come in ticks (10 000 ticks = 1 ms), dates as ISO 8601 in UTC,
external ids as `ProviderIds` ({"Imdb": "tt…", "Tmdb": "…", "Tvdb": "…"}). Answers are
read defensively: a field of the wrong type is taken as absent, never as a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from manager.servers.identity import external_id
from manager.servers.models import (
    EPISODE,
    MOVIE,
    SEASON,
    SHOW,
    Library,
    MediaItem,
    ServerIdentity,
    Session,
)

TICKS_PER_MS = 10_000
# The cluster's kinds and the servers' item types, both ways.
ITEM_TYPES = {MOVIE: "Movie", SHOW: "Series", SEASON: "Season", EPISODE: "Episode"}
_KINDS = {v: k for k, v in ITEM_TYPES.items()}
_COLLECTIONS = {"movies": MOVIE, "tvshows": SHOW}
_GUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


# How Jellyfin names "no user" (a session opened with an API key).
NO_USER = "0" * 32


class ParseError(ValueError):
    """An answer that is not the JSON these servers send."""


@dataclass(frozen=True, slots=True)
class Account:
    """A user account on one server (`GET /Users`)."""

    id: str
    name: str
    admin: bool


def canonical_id(value: Any) -> str:
    """The form our ids take: GUIDs (user ids, Jellyfin item ids) as 32 lower-case hex
    digits, the form the servers answer in; a client may write them with dashes in a URL."""
    text = "" if value is None else str(value).strip()
    if _GUID.match(text):
        return text.replace("-", "").lower()
    return text


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        return int(str(value))
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def epoch_seconds(value: Any) -> int | None:
    """ISO 8601 (Jellyfin writes seven fractional digits and a Z) → epoch seconds; a time
    without a zone is UTC, as both servers keep their dates."""
    text = _str(value)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(when.timestamp())
    return seconds if seconds > 0 else None  # 0001-01-01 means "never" on these servers


def ticks_to_ms(value: Any) -> int | None:
    ticks = _int(value)
    return None if ticks is None else max(0, ticks // TICKS_PER_MS)


def identity(data: Any) -> ServerIdentity:
    """`GET /System/Info/Public`."""
    info = _dict(data)
    server_id = _str(info.get("Id"))
    if not server_id:
        raise ParseError("public system info without an Id")
    return ServerIdentity(
        id=server_id,
        name=_str(info.get("ServerName")) or "",
        version=_str(info.get("Version")) or "",
    )


def library_kind(collection_type: Any) -> str:
    """movies → movie, tvshows → show; other collections keep their own name (music,
    boxsets…); a mixed library has none."""
    text = (_str(collection_type) or "mixed").lower()
    return _COLLECTIONS.get(text, text)


def libraries(data: Any) -> list[Library]:
    """`GET /Library/VirtualFolders` (a list: ItemId, Name, CollectionType) or a user's
    `GET /Users/{id}/Views` (Items: Id, Name, CollectionType)."""
    nodes = data if isinstance(data, list) else _dict(data).get("Items") or []
    out: list[Library] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        lib_id = _str(node.get("ItemId")) or _str(node.get("Id"))
        if lib_id:
            title = _str(node.get("Name")) or ""
            out.append(
                Library(canonical_id(lib_id), library_kind(node.get("CollectionType")), title)
            )
    return out


def entries(data: Any) -> tuple[list[Mapping[str, Any]], int | None]:
    """An item query's answer: (its items, TotalRecordCount if given). Some routes (a
    show's episodes on older servers) answer a bare list."""
    if isinstance(data, list):
        return [n for n in data if isinstance(n, dict)], None
    body = _dict(data)
    nodes = body.get("Items")
    if not isinstance(nodes, list):
        raise ParseError("item query answer without Items")
    return [n for n in nodes if isinstance(n, dict)], _int(body.get("TotalRecordCount"))


def external_ids(node: Mapping[str, Any]) -> tuple[str, ...]:
    """ProviderIds → normalised external ids ("imdb://tt…"), in a stable order."""
    found = set()
    for namespace, value in _dict(node.get("ProviderIds")).items():
        normalised = external_id(str(namespace), _str(value))
        if normalised:
            found.add(normalised)
    return tuple(sorted(found))


def series_of(node: Mapping[str, Any]) -> str | None:
    """The series an episode or season belongs to (None for anything else)."""
    kind = _KINDS.get(_str(node.get("Type")) or "")
    series = _str(node.get("SeriesId")) if kind in (SEASON, EPISODE) else None
    return canonical_id(series) if series else None


def item(
    node: Mapping[str, Any],
    show_ids: Mapping[str, tuple[str, ...]],
    library: Library | None = None,
) -> MediaItem | None:
    """One item, with the reading user's state; `show_ids`: series id → its external ids
    (read once per page, never per episode). None for an item without an id."""
    item_id = _str(node.get("Id"))
    if not item_id:
        return None
    raw_type = _str(node.get("Type")) or ""
    kind = _KINDS.get(raw_type, raw_type.lower())
    user = _dict(node.get("UserData"))
    series = series_of(node)
    number = _int(node.get("IndexNumber"))
    season_number, episode_number, season_id = None, None, None
    if kind == EPISODE:
        season_number, episode_number = _int(node.get("ParentIndexNumber")), number
        season = _str(node.get("SeasonId"))
        season_id = canonical_id(season) if season else None
    elif kind == SEASON:
        season_number = number
    # A show's or season's episodes and how many the user played, when the server counted.
    leaves = _int(node.get("RecursiveItemCount")) if kind in (SHOW, SEASON) else None
    unplayed = _int(user.get("UnplayedItemCount"))
    played_leaves = None
    if leaves is not None and unplayed is not None:
        played_leaves = max(0, leaves - unplayed)
    return MediaItem(
        id=canonical_id(item_id),
        kind=kind,
        title=_str(node.get("Name")) or "",
        external_ids=external_ids(node),
        duration_ms=ticks_to_ms(node.get("RunTimeTicks")),
        library_id=library.id if library else None,
        library=library.title if library else None,
        season_id=season_id,
        show_id=series,
        show_ids=show_ids.get(series, ()) if series else (),
        show_title=_str(node.get("SeriesName")) if series else None,
        season_number=season_number,
        episode_number=episode_number,
        played=user.get("Played") is True,
        play_count=_int(user.get("PlayCount")) or 0,
        resume_ms=ticks_to_ms(user.get("PlaybackPositionTicks")) or 0,
        last_played_at=epoch_seconds(user.get("LastPlayedDate")),
        leaves=leaves,
        played_leaves=played_leaves,
    )


def items(
    nodes: list[Mapping[str, Any]],
    show_ids: Mapping[str, tuple[str, ...]],
    library: Library | None = None,
) -> list[MediaItem]:
    return [found for node in nodes if (found := item(node, show_ids, library)) is not None]


def sessions(data: Any) -> list[Session]:
    """`GET /Sessions`: only sessions playing something (NowPlayingItem) are sessions to
    the cluster; the rest are clients that are merely connected."""
    out: list[Session] = []
    for node in data if isinstance(data, list) else []:
        if not isinstance(node, dict):
            continue
        playing = _dict(node.get("NowPlayingItem"))
        item_id = _str(playing.get("Id"))
        if not item_id:
            continue
        paused = _dict(node.get("PlayState")).get("IsPaused") is True
        out.append(
            Session(
                item_id=canonical_id(item_id),
                user_id=canonical_id(node.get("UserId")),
                username=_str(node.get("UserName")) or "",
                state="paused" if paused else "playing",
                client_id=_str(node.get("DeviceId")) or "",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Device:
    """A connected client (an entry of `GET /Sessions`, playing or not) and its user."""

    device_id: str
    user_id: str
    item_id: str | None  # what it plays now


def devices(data: Any) -> list[Device]:
    """Every session with a user, idle ones too: a client that marks an item played is
    connected but plays nothing."""
    out: list[Device] = []
    for node in data if isinstance(data, list) else []:
        if not isinstance(node, dict):
            continue
        device, user = _str(node.get("DeviceId")), _str(node.get("UserId"))
        if device and user and canonical_id(user) != NO_USER:
            playing = _str(_dict(node.get("NowPlayingItem")).get("Id"))
            out.append(
                Device(device, canonical_id(user), canonical_id(playing) if playing else None)
            )
    return out


def account(data: Any) -> Account | None:
    """One user (`GET /Users/Me`, an entry of `GET /Users`)."""
    node = _dict(data)
    user_id, name = _str(node.get("Id")), _str(node.get("Name"))
    if not user_id or not name:
        return None
    admin = _dict(node.get("Policy")).get("IsAdministrator") is True
    return Account(canonical_id(user_id), name, admin)


def accounts(data: Any) -> list[Account]:
    """`GET /Users` (a list; Emby's `/Users/Query` wraps it in Items)."""
    nodes = data if isinstance(data, list) else _dict(data).get("Items")
    if not isinstance(nodes, list):
        return []
    return [found for node in nodes if (found := account(node)) is not None]
