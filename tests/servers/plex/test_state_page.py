"""state_page reads a user's listing page as parse.states does, or leaves it to it.

The rule under test: for any page, read_states gives exactly the items and total of the
general path (parse.decode, parse.states, parse.total_size), or None. Pages of every
value type a field can hold are generated; a plain page must take the fast path, or the
property would hold with a reader that never reads.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from manager.servers.plex import parse
from manager.servers.plex.state_page import read_states

STATE_FIELDS = ("viewCount", "viewOffset", "lastViewedAt", "leafCount", "viewedLeafCount")

# What a server could put in a field: what Plex sends, and what it should not.
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "3", "3.0", " 7", "1e3", "0x10", "1_000", "inf", "nan", "abc", "٣"]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
kinds = st.one_of(st.sampled_from(["movie", "episode", "show", "season", "clip"]), values)
rating_keys = st.one_of(st.sampled_from(["1", "2", "42", ""]), values)


@st.composite
def entries(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 20)) == 0:
        return draw(values)  # an entry that is not an object
    entry: dict[str, Any] = {}
    if draw(st.booleans()):
        entry["ratingKey"] = draw(rating_keys)
    if draw(st.booleans()):
        entry["type"] = draw(kinds)
    for name in STATE_FIELDS:
        if draw(st.booleans()):
            entry[name] = draw(values)
    if draw(st.booleans()):  # a field the reader skips, of any shape
        entry["Media"] = draw(st.one_of(values, st.lists(values, max_size=3)))
    return entry


@st.composite
def pages(draw: st.DrawFn) -> bytes:
    container: dict[str, Any] = {}
    if draw(st.booleans()):
        container["totalSize"] = draw(values)
    if draw(st.integers(0, 10)) > 0:
        container["Metadata"] = draw(st.one_of(st.lists(entries(), max_size=6), values))
    page: Any = {"MediaContainer": container}
    if draw(st.integers(0, 10)) == 0:
        page = draw(st.one_of(values, st.just(container)))  # not the usual wrapper
    raw = json.dumps(page).encode()
    if draw(st.integers(0, 10)) == 0:
        raw = b"\xef\xbb\xbf" + raw  # a byte-order mark (the general path reads XML)
    return raw


def general(raw: bytes, header: str | None = None) -> tuple[list[Any], int | None] | str:
    try:
        body = parse.decode(raw)
    except parse.ParseError as exc:
        return str(exc)
    return parse.states(body), parse.total_size(body, header)


@settings(max_examples=400, deadline=None)
@given(pages())
def test_the_same_items_as_the_general_path_or_none(raw: bytes) -> None:
    fast = read_states(raw)
    if fast is not None:
        assert fast == general(raw)


def plain_page(**extra: Any) -> bytes:
    items = [
        {"ratingKey": "1", "type": "movie", "title": "A", "viewCount": 2, "lastViewedAt": 9},
        {"ratingKey": "2", "type": "movie", "viewOffset": 60_000, "Media": [{"id": 1}]},
        {"ratingKey": "3", "type": "show", "leafCount": 4, "viewedLeafCount": 4},
        {"ratingKey": "4", "type": "season", "leafCount": 4, "viewedLeafCount": "2"},
        {"ratingKey": "", "type": "movie", "viewCount": 1},
    ]
    return json.dumps({"MediaContainer": {"totalSize": 9, "Metadata": items, **extra}}).encode()


def test_a_plain_page_takes_the_fast_path_with_the_same_answer() -> None:
    raw = plain_page()
    fast = read_states(raw)
    assert fast is not None
    items, total = fast
    assert (items, total) == general(raw)
    assert total == 9
    assert [(i.id, i.played, i.resume_ms, i.last_played_at) for i in items] == [
        ("1", True, 0, 9),
        ("2", False, 60_000, None),
        ("3", True, 0, None),
        ("4", False, 0, None),
    ]


def test_what_it_does_not_read_as_is_goes_to_the_general_path() -> None:
    assert read_states(b"<MediaContainer/>") is None  # XML
    assert read_states(plain_page().replace(b'"A"', b'"\xff"')) is None  # not UTF-8
    assert read_states(plain_page() + b" trailing") is None
    assert read_states(plain_page().replace(b"60000", b"NaN")) is None
    assert read_states(plain_page().replace(b"60000", b"1.5")) is None  # general: 1
    assert read_states(plain_page().replace(b'"2"', b"2", 1)) is None  # general: "2"


def test_a_page_without_a_total_takes_the_header() -> None:
    raw = json.dumps({"MediaContainer": {"Metadata": [{"ratingKey": "1"}]}}).encode()
    fast = read_states(raw)
    assert fast is not None and fast[1] is None  # the client then reads the header
    assert general(raw, "5")[1] == 5  # type: ignore[index]


def test_a_value_in_a_field_it_skips_is_not_looked_at() -> None:
    # The general path refuses a number beyond a double anywhere; this reader never
    # looks at the field, and the page's state is read.
    raw = plain_page().replace(b'"A"', b"1e999")
    assert isinstance(general(raw), str)
    assert read_states(raw) is not None
