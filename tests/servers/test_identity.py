"""GUID parsing and identity keys: new-agent, legacy-agent and no-identity Plex items.

Items are built as Plex sends them (JSON attributes and <Guid> children) and parsed the
way every answer is, so what is checked is what the cluster sees of a Plex item.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from manager.servers.identity import (
    ItemIdentity,
    identity_key,
    identity_keys,
    identity_of,
    normalize_guid,
    show_identity,
)
from manager.servers.models import MediaItem
from manager.servers.plex import parse
from manager.servers.plex.guids import parse_legacy_guid


def plex_item(guids: tuple[str, ...] = (), **attrs: Any) -> MediaItem:
    """One item as a Plex server's JSON answer carries it, parsed."""
    entry = {**attrs, "Guid": [{"id": g} for g in guids]}
    body = json.dumps({"MediaContainer": {"Metadata": [entry]}}).encode()
    (item,) = parse.items(parse.decode(body))
    return item


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("imdb://tt0111161", "imdb://tt0111161"),
        ("IMDB://TT0111161", "imdb://tt0111161"),
        ("tmdb://278", "tmdb://278"),
        ("themoviedb://278", "tmdb://278"),
        ("tvdb://81189", "tvdb://81189"),
        ("thetvdb://81189?lang=en", "tvdb://81189"),
        ("plex://movie/5d7768", None),
        ("local://12", None),
        ("", None),
        (None, None),
        ("imdb://", None),
    ],
)
def test_normalize_guid(raw: str | None, expected: str | None) -> None:
    assert normalize_guid(raw) == expected


@pytest.mark.parametrize(
    ("guid", "external", "season", "episode"),
    [
        ("com.plexapp.agents.imdb://tt0111161?lang=en", "imdb://tt0111161", None, None),
        ("com.plexapp.agents.themoviedb://278?lang=en", "tmdb://278", None, None),
        ("com.plexapp.agents.themoviedb://1399/2/3?lang=en", "tmdb://1399", 2, 3),
        ("com.plexapp.agents.thetvdb://81189/1/5?lang=en", "tvdb://81189", 1, 5),
        ("com.plexapp.agents.thetvdb://81189/1?lang=en", "tvdb://81189", 1, None),
        ("com.plexapp.agents.thetvdb://81189?lang=en", "tvdb://81189", None, None),
        ("com.plexapp.agents.hama://tvdb-81189/1/2?lang=en", "tvdb://81189", 1, 2),
        ("com.plexapp.agents.xbmcnfo://tt0111161?lang=en", "imdb://tt0111161", None, None),
    ],
)
def test_parse_legacy_guid(
    guid: str, external: str, season: int | None, episode: int | None
) -> None:
    parsed = parse_legacy_guid(guid)
    assert parsed is not None
    assert (parsed.external_id, parsed.season, parsed.episode) == (external, season, episode)


@pytest.mark.parametrize(
    "guid",
    [
        "local://42",
        "com.plexapp.agents.none://abc",
        "com.plexapp.agents.localmedia://1",
        "plex://movie/5d776825880197001ec967c3",
        "com.plexapp.agents.unknownagent://x",
        None,
    ],
)
def test_no_legacy_identity(guid: str | None) -> None:
    assert parse_legacy_guid(guid) is None


def test_new_agent_movie_identity_and_key() -> None:
    item = plex_item(
        ratingKey="10",
        type="movie",
        title="Heat",
        guid="plex://movie/5d77",
        guids=("tmdb://949", "imdb://tt0113277", "tvdb://1"),
    )
    ident = identity_of(item)
    assert ident.guid == "plex://movie/5d77"
    assert ident.external_ids == {"tmdb://949", "imdb://tt0113277", "tvdb://1"}
    # imdb first for movies: what a legacy IMDb-agent server of the same film also has.
    assert identity_key(ident) == "movie:imdb://tt0113277"
    legacy = identity_of(
        plex_item(
            ratingKey="99",
            type="movie",
            title="Heat",
            guid="com.plexapp.agents.imdb://tt0113277?lang=en",
        )
    )
    assert legacy.guid is None
    assert identity_key(legacy) == identity_key(ident)


def test_episode_identity_with_show_and_legacy_agree() -> None:
    show = plex_item(
        ratingKey="1",
        type="show",
        title="Lost",
        guid="plex://show/abc",
        guids=("tvdb://73739", "imdb://tt0411008"),
    )
    new_ep = plex_item(
        ratingKey="5",
        type="episode",
        title="Pilot",
        guid="plex://episode/def",
        guids=("tvdb://127131",),
        grandparentGuid="plex://show/abc",
        parentIndex=1,
        index=1,
        grandparentRatingKey="1",
    )
    ident = identity_of(new_ep, show)
    assert ident.show_ids == {"plex://show/abc", "tvdb://73739", "imdb://tt0411008"}
    assert (ident.season, ident.episode) == (1, 1)
    legacy_ep = plex_item(
        ratingKey="77",
        type="episode",
        title="Pilot",
        guid="com.plexapp.agents.thetvdb://73739/1/1?lang=en",
    )
    legacy = identity_of(legacy_ep)
    assert legacy.external_ids == frozenset()
    assert legacy.show_ids == {"tvdb://73739"}
    assert (legacy.season, legacy.episode) == (1, 1)
    assert identity_key(legacy) == identity_key(ident) == "episode:tvdb://73739/s1e1"
    assert "episode:plex://episode/def" in identity_keys(ident)
    assert show_identity(ident) == ItemIdentity(
        kind="show",
        guid="plex://show/abc",
        external_ids=frozenset({"tvdb://73739", "imdb://tt0411008"}),
    )


def test_local_item_has_no_identity() -> None:
    ident = identity_of(
        plex_item(ratingKey="3", type="movie", title="Home video", guid="local://3")
    )
    assert ident.is_empty
    assert identity_keys(ident) == []
    with pytest.raises(ValueError, match="no guid"):
        identity_key(ident)


def test_season_identity() -> None:
    season = plex_item(
        ratingKey="2",
        type="season",
        title="Season 2",
        guid="plex://season/s2",
        parentGuid="plex://show/abc",
        index=2,
        parentRatingKey="1",
    )
    ident = identity_of(season)
    assert ident.kind == "season" and ident.season == 2 and not ident.is_empty
    assert identity_key(ident) == "season:plex://show/abc/s2"
