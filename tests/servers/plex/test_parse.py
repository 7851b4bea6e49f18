"""The same Plex answer as XML and as JSON parses to the same models."""

from __future__ import annotations

import json

import pytest

from manager.servers.models import MediaItem
from manager.servers.plex import parse

XML_EPISODES = b"""<?xml version="1.0" encoding="UTF-8"?>
<MediaContainer size="2" totalSize="7" offset="0" librarySectionID="2"
  librarySectionTitle="TV Shows">
  <Video ratingKey="501" key="/library/metadata/501" type="episode" title="Pilot"
    guid="plex://episode/aaa" grandparentGuid="plex://show/sss" grandparentTitle="Lost"
    grandparentRatingKey="400" parentRatingKey="450" parentIndex="1" index="1"
    duration="2580000" viewCount="2" viewOffset="60000" lastViewedAt="1700000000">
    <Media id="1"><Part id="1"/></Media>
    <Guid id="imdb://tt0636289"/><Guid id="tvdb://127131"/>
  </Video>
  <Video ratingKey="502" type="episode" title="Legacy"
    guid="com.plexapp.agents.thetvdb://73739/1/2?lang=en" grandparentRatingKey="400"
    parentIndex="1" index="2" duration="2500000"/>
</MediaContainer>"""

JSON_EPISODES = {
    "MediaContainer": {
        "size": 2,
        "totalSize": 7,
        "offset": 0,
        "librarySectionID": 2,
        "librarySectionTitle": "TV Shows",
        "Metadata": [
            {
                "ratingKey": "501",
                "type": "episode",
                "title": "Pilot",
                "guid": "plex://episode/aaa",
                "grandparentGuid": "plex://show/sss",
                "grandparentTitle": "Lost",
                "grandparentRatingKey": "400",
                "parentRatingKey": "450",
                "parentIndex": 1,
                "index": 1,
                "duration": 2580000,
                "viewCount": 2,
                "viewOffset": 60000,
                "lastViewedAt": 1700000000,
                "Media": [{"id": 1}],
                "Guid": [{"id": "imdb://tt0636289"}, {"id": "tvdb://127131"}],
            },
            {
                "ratingKey": "502",
                "type": "episode",
                "title": "Legacy",
                "guid": "com.plexapp.agents.thetvdb://73739/1/2?lang=en",
                "grandparentRatingKey": "400",
                "parentIndex": 1,
                "index": 2,
                "duration": 2500000,
            },
        ],
    }
}


@pytest.mark.parametrize("raw", [XML_EPISODES, json.dumps(JSON_EPISODES).encode()])
def test_items_xml_and_json_agree(raw: bytes) -> None:
    body = parse.decode(raw)
    assert parse.total_size(body, None) == 7
    first, second = parse.items(body)
    assert first == MediaItem(
        id="501",
        kind="episode",
        title="Pilot",
        guid="plex://episode/aaa",
        external_ids=("imdb://tt0636289", "tvdb://127131"),
        duration_ms=2580000,
        library_id="2",
        library="TV Shows",
        season_id="450",
        show_id="400",
        show_ids=("plex://show/sss",),
        show_title="Lost",
        season_number=1,
        episode_number=1,
        played=True,
        play_count=2,
        resume_ms=60000,
        last_played_at=1700000000,
    )
    assert second.play_count == 0 and second.resume_ms == 0 and second.last_played_at is None
    assert not second.played
    # A legacy agent's episode guid names the show and the numbers: no id of its own.
    assert (second.guid, second.external_ids, second.show_ids) == (None, (), ("tvdb://73739",))
    assert (second.season_number, second.episode_number, second.show_id) == (1, 2, "400")


def test_sections_identity_sessions_both_shapes() -> None:
    xml = b"""<MediaContainer size="2">
      <Directory key="1" type="movie" title="Movies" uuid="u1" agent="tv.plex.agents.movie"/>
      <Directory key="2" type="show" title="TV Shows" uuid="u2"/></MediaContainer>"""
    js = {
        "MediaContainer": {
            "Directory": [
                {"key": "1", "type": "movie", "title": "Movies", "uuid": "u1"},
                {"key": "2", "type": "show", "title": "TV Shows", "uuid": "u2"},
            ]
        }
    }
    from_json = parse.sections(parse.decode(json.dumps(js).encode()))
    assert parse.sections(parse.decode(xml)) == from_json
    assert [s.title for s in parse.sections(parse.decode(xml))] == ["Movies", "TV Shows"]

    ident_xml = b'<MediaContainer machineIdentifier="m1" version="1.40" friendlyName="alpha"/>'
    ident_js = (
        b'{"MediaContainer":{"machineIdentifier":"m1","version":"1.40","friendlyName":"alpha"}}'
    )
    assert parse.identity(parse.decode(ident_xml)) == parse.identity(parse.decode(ident_js))

    sess_xml = b"""<MediaContainer size="1"><Video ratingKey="9" type="movie">
      <User id="1" title="admin"/><Player state="paused" machineIdentifier="c1"/></Video>
      </MediaContainer>"""
    sess_js = (
        b'{"MediaContainer":{"Metadata":[{"ratingKey":"9","type":"movie",'
        b'"User":{"id":"1","title":"admin"},"Player":{"state":"paused","machineIdentifier":"c1"}}]}}'
    )
    a = parse.sessions(parse.decode(sess_xml))
    assert a == parse.sessions(parse.decode(sess_js))
    got = (a[0].item_id, a[0].user_id, a[0].username, a[0].state, a[0].client_id)
    assert got == ("9", "1", "admin", "paused", "c1")


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(parse.ParseError):
        parse.decode(b"<MediaContainer")
    with pytest.raises(parse.ParseError):
        parse.identity(parse.decode(b"<MediaContainer/>"))


def test_a_number_out_of_range_is_no_number() -> None:
    # int(float("inf")) raises OverflowError, not ValueError: it once escaped the parser.
    assert [parse.as_int(v) for v in ("inf", "-inf", "nan", "1e3", "7")] == [
        None,
        None,
        None,
        1000,
        7,
    ]
    page = b'<MediaContainer><Video ratingKey="1" type="movie" viewOffset="inf"/></MediaContainer>'
    assert parse.states(parse.decode(page))[0].resume_ms == 0


def test_interner_shares_repeated_strings() -> None:
    items = parse.items(parse.decode(XML_EPISODES))
    assert items[0].kind is items[1].kind
    assert items[0].library is items[1].library
