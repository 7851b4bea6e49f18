"""Plex answers (XML by default, JSON with Accept: application/json) into the cluster's models.

Both shapes go through one item builder: XML attributes are strings, JSON values are
already numbers, so every field is converted on the way in.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from manager.servers import json_body
from manager.servers.identity import normalize_guid
from manager.servers.models import Library, MediaItem, ServerIdentity, Session
from manager.servers.plex.guids import (
    PLEX_GUID_PREFIX,
    LegacyGuid,
    parse_legacy_guid,
    show_ids_from,
)

Body = ET.Element | dict[str, Any]
# XML tags that are library entries (movies/episodes are Video, shows/seasons Directory).
_ENTRY_TAGS = frozenset({"Video", "Directory", "Track", "Photo", "Metadata"})


class ParseError(ValueError):
    """A body that is neither the XML nor the JSON Plex sends."""


def decode(content: bytes) -> Body:
    """XML root element, or the JSON object (unwrapped from "MediaContainer" if present)."""
    text = content.lstrip()
    if not text:
        return {}
    try:
        if text[:1] in (b"{", b"["):
            data = json_body.loads(text)
            if isinstance(data, dict) and isinstance(data.get("MediaContainer"), dict):
                return data["MediaContainer"]
            return data if isinstance(data, dict) else {"items": data}
        return ET.fromstring(text)
    except (ValueError, ET.ParseError) as exc:
        raise ParseError(f"unreadable answer: {type(exc).__name__}") from None


def attrs(body: Body) -> Mapping[str, Any]:
    return body.attrib if isinstance(body, ET.Element) else body


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):  # OverflowError: "inf"
            return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return str(value).strip().lower() in ("1", "true", "yes")


def entries(body: Body, *json_keys: str) -> Iterator[tuple[Mapping[str, Any], Any]]:
    """(attributes, raw node) for every child entry; JSON under the given keys."""
    if isinstance(body, ET.Element):
        for el in body:
            if el.tag in _ENTRY_TAGS or not json_keys:
                yield el.attrib, el
        return
    for key in json_keys or ("Metadata", "Directory"):
        for node in body.get(key) or ():
            if isinstance(node, dict):
                yield node, node


def _child(node: Any, tag: str) -> Mapping[str, Any] | None:
    if isinstance(node, ET.Element):
        el = node.find(tag)
        return el.attrib if el is not None else None
    value = node.get(tag)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else None


def _guid_ids(node: Any) -> tuple[str, ...]:
    if isinstance(node, ET.Element):
        raw = [g.get("id") for g in node if g.tag == "Guid"]
    else:
        raw = [g.get("id") for g in node.get("Guid") or () if isinstance(g, dict)]
    return normalized_ids(raw)


def normalized_ids(raw: Iterable[str | None]) -> tuple[str, ...]:
    """An entry's <Guid> ids, normalised (identity.normalize_guid), first of each kept."""
    out: list[str] = []
    for value in raw:
        norm = normalize_guid(value)
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


def total_size(body: Body, header: str | None) -> int | None:
    return listing_total(attrs(body).get("totalSize"), header)


def listing_total(total: Any, header: str | None) -> int | None:
    """A listing's total: its totalSize, else the X-Plex-Container-Total-Size header."""
    value = as_int(total)
    if value is None and header:
        value = as_int(header)
    return value


class Interner:
    """Shares repeated strings (types, show titles, section titles) across one read."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._seen.setdefault(value, value)


def _identity_fields(
    kind: str, guid: str | None, guid_ids: tuple[str, ...], show_guid: str | None
) -> tuple[str | None, tuple[str, ...], list[str], LegacyGuid | None]:
    """(plex guid, external ids, show ids, legacy guid of a season or episode)."""
    plex_guid = guid if guid and guid.startswith(PLEX_GUID_PREFIX) else None
    legacy = parse_legacy_guid(guid)
    if kind in ("episode", "season"):
        show_ids = show_ids_from(show_guid)
        if legacy is not None and legacy.external_id not in show_ids:
            # A legacy TV guid names the show, then season (and episode) numbers.
            show_ids.append(legacy.external_id)
        return plex_guid, guid_ids, show_ids, legacy
    if legacy is not None and legacy.external_id not in guid_ids:
        guid_ids = (*guid_ids, legacy.external_id)
    return plex_guid, guid_ids, [], None


def items(
    body: Body,
    *,
    section_id: str | None = None,
    section_title: str | None = None,
    intern: Interner | None = None,
) -> list[MediaItem]:
    share = intern or Interner()
    top = attrs(body)
    default_section_id = section_id or as_str(top.get("librarySectionID"))
    default_section_title = section_title or as_str(top.get("librarySectionTitle"))
    out: list[MediaItem] = []
    for a, node in entries(body, "Metadata"):
        rating_key = as_str(a.get("ratingKey"))
        if not rating_key:
            continue
        kind = share(as_str(a.get("type"))) or ""
        item = build_item(
            share,
            Entry(
                rating_key, kind, as_str(a.get("title")), as_str(a.get("guid")),
                _guid_ids(node), as_str(a.get("parentRatingKey")),
                as_str(a.get("grandparentRatingKey")), a.get("parentGuid"),
                a.get("grandparentGuid"), a.get("parentTitle"), a.get("grandparentTitle"),
                as_int(a.get("index")), as_int(a.get("parentIndex")),
                as_str(a.get("librarySectionID")) or default_section_id,
                as_str(a.get("librarySectionTitle")) or default_section_title,
                as_int(a.get("duration")),
            ),
        )  # fmt: skip
        _add_state(item, a)
        out.append(item)
    return out


class Entry(NamedTuple):
    """One listed entry's values an item is built from, read and typed (`build_item`)."""

    rating_key: str
    kind: str
    title: str | None
    guid: str | None
    guid_ids: tuple[str, ...]  # normalised (normalized_ids)
    parent_key: str | None
    grandparent_key: str | None
    parent_guid: Any  # as sent: read as text only where the kind uses it
    grandparent_guid: Any
    parent_title: Any
    grandparent_title: Any
    index: int | None
    parent_index: int | None
    section_id: str | None
    section_title: str | None
    duration_ms: int | None


def build_item(share: Interner, e: Entry) -> MediaItem:
    """The item of a listed entry, without the reading user's state (`set_state`): the
    one rule for both readers, this module's and catalogue_page's."""
    kind = e.kind
    season_id = show_id = None
    if kind == "episode":
        show_guid, show_title = e.grandparent_guid, e.grandparent_title
        season_index, episode_index = e.parent_index, e.index
        season_id = share(e.parent_key)
        show_id = share(e.grandparent_key)
    elif kind == "season":
        show_guid, show_title = e.parent_guid, e.parent_title
        season_index, episode_index = e.index, None
        show_id = share(e.parent_key)
    else:
        show_guid = show_title = None
        season_index = episode_index = None
    plex_guid, external, show_ids, legacy = _identity_fields(
        kind, e.guid, e.guid_ids, as_str(show_guid)
    )
    if legacy is not None:
        if season_index is None:
            season_index = legacy.season
        if kind == "episode" and episode_index is None:
            episode_index = legacy.episode
    return MediaItem(
        id=e.rating_key,
        kind=kind,
        title=e.title or "",
        guid=plex_guid,
        external_ids=external,
        duration_ms=e.duration_ms,
        library_id=share(e.section_id),
        library=share(e.section_title),
        season_id=season_id,
        show_id=show_id,
        show_ids=tuple(share(i) or i for i in show_ids),
        show_title=share(as_str(show_title)),
        season_number=season_index,
        episode_number=episode_index,
    )


def states(body: Body) -> list[MediaItem]:
    """The items of a listing with their id, kind and the user's state only: a user's pass
    over a catalogue read before needs no more, and this is a third of items()' work."""
    out: list[MediaItem] = []
    for a, _node in entries(body, "Metadata"):
        rating_key = as_str(a.get("ratingKey"))
        if rating_key:
            item = MediaItem(id=rating_key, kind=as_str(a.get("type")) or "", title="")
            _add_state(item, a)
            out.append(item)
    return out


def _add_state(item: MediaItem, a: Mapping[str, Any]) -> None:
    """The reading user's state, from the entry's attributes, into the item being built."""
    set_state(
        item,
        as_int(a.get("viewCount")) or 0,
        as_int(a.get("viewOffset")) or 0,
        as_int(a.get("lastViewedAt")),
        as_int(a.get("leafCount")),
        as_int(a.get("viewedLeafCount")),
    )


def set_state(
    item: MediaItem,
    view_count: int,
    view_offset: int,
    last_viewed_at: int | None,
    leaf_count: int | None,
    viewed_leaf_count: int | None,
) -> None:
    """The reading user's state, from the entry's values, into the item being built (the
    one rule for both readers: this module's and state_page's)."""
    leaves = leaf_count if item.kind in ("show", "season") else None
    played_leaves = (viewed_leaf_count or 0) if leaves is not None else None
    item.played = _played(view_count, leaves, played_leaves)
    item.play_count = view_count
    item.resume_ms = view_offset
    item.last_played_at = last_viewed_at
    item.leaves = leaves
    item.played_leaves = played_leaves


def _played(view_count: int, leaves: int | None, played_leaves: int | None) -> bool:
    """plexapi's rule: viewCount for leaves, every leaf viewed for shows and seasons."""
    if leaves is not None:
        return leaves > 0 and (played_leaves or 0) >= leaves
    return view_count > 0


def sections(body: Body) -> list[Library]:
    out: list[Library] = []
    for a, _node in entries(body, "Directory"):
        key = as_str(a.get("key"))
        if key is None:
            continue
        out.append(
            Library(id=key, kind=as_str(a.get("type")) or "", title=as_str(a.get("title")) or "")
        )
    return out


def identity(body: Body) -> ServerIdentity:
    a = attrs(body)
    machine = as_str(a.get("machineIdentifier"))
    if not machine:
        raise ParseError("answer has no machineIdentifier")
    return ServerIdentity(
        id=machine,
        name=as_str(a.get("friendlyName")) or "",
        version=as_str(a.get("version")) or "",
    )


def sessions(body: Body) -> list[Session]:
    out: list[Session] = []
    for a, node in entries(body, "Metadata"):
        rating_key = as_str(a.get("ratingKey"))
        if not rating_key:
            continue
        user = _child(node, "User") or {}
        player = _child(node, "Player") or {}
        out.append(
            Session(
                item_id=rating_key,
                user_id=as_str(user.get("id")) or "",
                username=as_str(user.get("title")) or "",
                state=as_str(player.get("state")) or "",
                client_id=as_str(player.get("machineIdentifier")) or "",
            )
        )
    return out
