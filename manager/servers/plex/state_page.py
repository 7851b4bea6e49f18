"""A user's listing page, read for the state alone: the fast path of `parse.states`.

Most pages of a full sync are the users' passes over a catalogue read before, and those
need seven fields of each entry. A JSON page decoded into the generic tree (every field
of every entry, a dict each) and then walked took 5.8 ms of CPU per page of 1 000 movies;
here msgspec decodes the seven fields straight into typed records and skips the rest in
C, and the items are built from them: 1.7 ms, the same items out (`make bench
BENCH=pages`).

The same answer as the general path, or none: whatever this decoder does not take as it
is (an XML page, a value of another type than Plex sends, JSON that is not valid, bytes
that are not UTF-8) returns None, and the caller decodes the page the general way, which
gives the items or the same "unreadable answer" as before. Values in the fields it skips
are not looked at, except that the page must be UTF-8, as the general path requires.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from manager.servers.models import MediaItem
from manager.servers.plex.parse import set_state

# Integers orjson (the general path) reads as integers (it reads those past 2**64 as
# floats); msgspec bounds no further than int64, and the rest go the general way.
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class StateEntry(msgspec.Struct):
    """The fields of a listed item that its id, kind and the user's state come from
    (named as Plex names them, so that the decoder matches them)."""

    ratingKey: str | None = None
    type: str | None = None
    viewCount: Int | None = None
    viewOffset: Int | None = None
    lastViewedAt: Int | None = None
    leafCount: Int | None = None
    viewedLeafCount: Int | None = None


class _Container(msgspec.Struct):
    totalSize: Int | None = None
    Metadata: list[StateEntry] | None = None


class _Page(msgspec.Struct):
    MediaContainer: _Container


# Not strict: numbers sent as strings ("3") are read as numbers, as the general path does.
_decoder = msgspec.json.Decoder(_Page, strict=False)


def read_states(content: bytes) -> tuple[list[MediaItem], int | None] | None:
    """The page's items (id, kind and the user's state) and its totalSize, or None when
    the page is not the plain JSON shape (the caller then uses the general path)."""
    page = typed(_decoder, content)
    if page is None:
        return None
    out: list[MediaItem] = []
    for e in page.Metadata or ():
        if e.ratingKey:
            item = MediaItem(id=e.ratingKey, kind=e.type or "", title="")
            set_state(
                item,
                e.viewCount or 0,
                e.viewOffset or 0,
                e.lastViewedAt,
                e.leafCount,
                e.viewedLeafCount,
            )
            out.append(item)
    return out, page.totalSize


def typed(decoder: msgspec.json.Decoder[Any], content: bytes) -> Any:
    """The page's MediaContainer as `decoder` types it (a record with that field), or
    None: not UTF-8 (which the
    general path requires, in the fields skipped too), not JSON, or a value of another
    type than the record's."""
    if not content.isascii():
        try:
            content.decode()
        except UnicodeDecodeError:
            return None
    try:
        return decoder.decode(content).MediaContainer
    except msgspec.DecodeError:  # a ValidationError (a value of another type) is one
        return None
