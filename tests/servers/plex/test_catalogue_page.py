"""catalogue_page reads a whole listing page as parse.items does, or leaves it to it.

The rule under test: for any page, read_items gives exactly the items and total of the
general path (parse.decode, parse.items, parse.total_size), or None. Pages of every value
type a field can hold are generated; a plain page (and the emulator's, as Plex sends
them) must take the fast path, or the property would hold with a reader that never reads.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from manager.servers.plex import parse
from manager.servers.plex.catalogue_page import read_items
from tests.servers.plex.test_state_page import values

TEXT_FIELDS = (
    "title", "guid", "parentRatingKey", "grandparentRatingKey", "parentGuid",
    "grandparentGuid", "parentTitle", "grandparentTitle", "librarySectionTitle",
)  # fmt: skip
NUMBER_FIELDS = (
    "index", "parentIndex", "duration", "viewCount", "viewOffset", "lastViewedAt",
    "leafCount", "viewedLeafCount",
)  # fmt: skip


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine values in ten of the types Plex sends: a page is read fast only when every
    field is, and the property must be tried on pages read fast."""
    return st.integers(0, 9).flatmap(lambda n: good if n else values)


texts = mostly(
    st.sampled_from(
        ["plex://movie/5d77", "imdb://tt0113277", "com.plexapp.agents.thetvdb://81189/1/2?lang=en",
         "tmdb://949", "tvdb://81189", "local://9", "Heat", "", "٣"]
    )
)  # fmt: skip
numbers = mostly(
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from(["3", "-1", "10"]), st.none())
)
guid_lists = mostly(st.lists(st.fixed_dictionaries({"id": texts}), max_size=3))
section_ids = mostly(st.sampled_from([1, "1", 2.0, 1e3, "Movies"]))
good_kinds = mostly(st.sampled_from(["movie", "episode", "show", "season"]))


@st.composite
def entries(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 20)) == 0:
        return draw(values)  # an entry that is not an object
    entry: dict[str, Any] = {}
    if draw(st.integers(0, 5)) > 0:
        entry["ratingKey"] = draw(mostly(st.sampled_from(["1", "2", "42", ""])))
    if draw(st.integers(0, 5)) > 0:
        entry["type"] = draw(good_kinds)
    for name in TEXT_FIELDS:
        if draw(st.booleans()):
            entry[name] = draw(texts)
    for name in NUMBER_FIELDS:
        if draw(st.booleans()):
            entry[name] = draw(numbers)
    if draw(st.booleans()):
        entry["Guid"] = draw(guid_lists)
    if draw(st.booleans()):
        entry["librarySectionID"] = draw(section_ids)
    if draw(st.booleans()):  # a field the reader skips, of any shape
        entry["Media"] = draw(st.one_of(values, st.lists(values, max_size=3)))
    return entry


@st.composite
def pages(draw: st.DrawFn) -> bytes:
    container: dict[str, Any] = {}
    if draw(st.booleans()):
        container["totalSize"] = draw(numbers)
    if draw(st.booleans()):
        container["librarySectionID"] = draw(section_ids)
    if draw(st.booleans()):
        container["librarySectionTitle"] = draw(texts)
    if draw(st.integers(0, 10)) > 0:
        container["Metadata"] = draw(mostly(st.lists(entries(), max_size=5)))
    page: Any = {"MediaContainer": container}
    if draw(st.integers(0, 10)) == 0:
        page = draw(st.one_of(values, st.just(container)))  # not the usual wrapper
    return json.dumps(page).encode()


def general(raw: bytes, **kw: Any) -> tuple[list[Any], int | None] | str:
    try:
        body = parse.decode(raw)
        return parse.items(body, **kw), parse.total_size(body, None)
    except (parse.ParseError, TypeError) as exc:  # TypeError: a <Guid> id not text
        return str(exc)


@settings(max_examples=600, deadline=None)
@given(pages())
def test_the_same_items_as_the_general_path_or_none(raw: bytes) -> None:
    fast = read_items(raw)
    event("read fast" if fast is not None else "left to the general path")
    if fast is not None:
        assert fast == general(raw)


def plain_page() -> bytes:
    show = "plex://show/5d9c"
    items = [
        {"ratingKey": "1", "type": "movie", "title": "Heat", "guid": "plex://movie/5d77",
         "Guid": [{"id": "imdb://tt0113277"}, {"id": "tmdb://949"}], "duration": 10_200_000,
         "viewCount": 2, "lastViewedAt": 9, "librarySectionID": 1, "Media": [{"id": 1}]},
        {"ratingKey": "2", "type": "episode", "title": "Pilot", "index": 1, "parentIndex": 1,
         "parentRatingKey": "20", "grandparentRatingKey": "30", "grandparentGuid": show,
         "grandparentTitle": "Fargo", "guid": "com.plexapp.agents.thetvdb://81189/1/1",
         "viewOffset": 60_000},
        {"ratingKey": "20", "type": "season", "index": 1, "parentRatingKey": "30",
         "parentGuid": show, "parentTitle": "Fargo", "leafCount": 4, "viewedLeafCount": 4},
        {"ratingKey": "", "type": "movie", "viewCount": 1},
    ]  # fmt: skip
    container = {"totalSize": 9, "librarySectionID": 7, "librarySectionTitle": "Films"}
    return json.dumps({"MediaContainer": {**container, "Metadata": items}}).encode()


def test_a_plain_page_takes_the_fast_path_with_the_same_answer() -> None:
    raw = plain_page()
    for kw in ({}, {"section_id": "3", "section_title": "Mine", "intern": parse.Interner()}):
        fast = read_items(raw, **kw)
        assert fast is not None
        assert fast == general(raw, **kw)
    items, total = read_items(raw)  # type: ignore[misc]
    assert total == 9
    heat, pilot, season = items
    assert (heat.external_ids, heat.library_id, heat.library, heat.played) == (
        ("imdb://tt0113277", "tmdb://949"), "1", "Films", True,
    )  # fmt: skip
    assert (pilot.show_id, pilot.season_id, pilot.season_number, pilot.episode_number) == (
        "30", "20", 1, 1,
    )  # fmt: skip
    assert (pilot.library_id, pilot.resume_ms, season.played) == ("7", 60_000, True)


def test_what_it_does_not_read_as_is_goes_to_the_general_path() -> None:
    assert read_items(b"<MediaContainer/>") is None  # XML
    assert read_items(plain_page().replace(b'"Heat"', b'"\xff"')) is None  # not UTF-8
    assert read_items(plain_page() + b" trailing") is None
    assert read_items(plain_page().replace(b"60000", b"1.5")) is None  # general: 1
    assert read_items(plain_page().replace(b'"2"', b"2", 1)) is None  # general: "2"
    assert read_items(plain_page().replace(b'"Heat"', b"5")) is None  # general: "5"
