"""Jellyfin/Emby JSON into the cluster's models: table tests on answers shaped like the
servers' own (BaseItemDto, SessionInfo, UserDto, VirtualFolderInfo, PublicSystemInfo)."""

from __future__ import annotations

from typing import Any

import pytest

from manager.servers.jellyfin import parse
from manager.servers.jellyfin.dialect import Dialect
from manager.servers.models import EPISODE, MOVIE, SEASON, SHOW, Library

SERIES = "a" * 32
EPISODE_NODE: dict[str, Any] = {
    "Id": "B" * 8 + "-" + "b" * 4 + "-" + "b" * 4 + "-" + "b" * 4 + "-" + "b" * 12,
    "Type": "Episode",
    "Name": "Pilot",
    "RunTimeTicks": 13_200_000_000,
    "SeriesId": SERIES,
    "SeriesName": "The Office (US)",
    "SeasonId": "c" * 32,
    "ParentIndexNumber": 1,
    "IndexNumber": 2,
    "ProviderIds": {"Imdb": "TT0664514", "Tvdb": "110413", "TvRage": "1"},
    "UserData": {
        "Played": True,
        "PlayCount": 3,
        "PlaybackPositionTicks": 600_000_000,
        "LastPlayedDate": "2024-05-01T12:00:00.1234567Z",
    },
}


def test_an_episode_with_ids_numbers_and_state() -> None:
    item = parse.item(EPISODE_NODE, {SERIES: ("tvdb://73244",)}, Library("L", SHOW, "Shows"))
    assert item is not None
    assert (item.id, item.kind, item.title) == ("b" * 32, EPISODE, "Pilot")
    assert item.external_ids == ("imdb://tt0664514", "tvdb://110413")  # TvRage is not matched
    assert (item.show_id, item.show_ids, item.show_title) == (
        SERIES,
        ("tvdb://73244",),
        "The Office (US)",
    )
    assert (item.season_id, item.season_number, item.episode_number) == ("c" * 32, 1, 2)
    assert (item.duration_ms, item.library_id, item.library) == (1_320_000, "L", "Shows")
    assert (item.played, item.play_count, item.resume_ms) == (True, 3, 60_000)
    assert item.last_played_at == 1_714_564_800


@pytest.mark.parametrize(
    ("node", "kind", "season", "episode"),
    [
        ({"Id": "1", "Type": "Movie", "Name": "Heat"}, MOVIE, None, None),
        ({"Id": "2", "Type": "Series", "Name": "Dark", "IndexNumber": 7}, SHOW, None, None),
        ({"Id": "3", "Type": "Season", "SeriesId": SERIES, "IndexNumber": 2}, SEASON, 2, None),
        ({"Id": "4", "Type": "Audio", "IndexNumber": 5}, "audio", None, None),
    ],
)
def test_kinds_and_numbers(
    node: dict[str, Any], kind: str, season: int | None, episode: int | None
) -> None:
    item = parse.item(node, {SERIES: ("tvdb://1",)})
    assert item is not None
    assert (item.kind, item.season_number, item.episode_number) == (kind, season, episode)
    assert item.show_ids == (("tvdb://1",) if kind == SEASON else ())
    assert (item.played, item.play_count, item.resume_ms, item.last_played_at) == (
        False,
        0,
        0,
        None,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00Z", 1_714_564_800),
        ("2024-05-01T12:00:00.0000000+00:00", 1_714_564_800),
        ("2024-05-01T12:00:00", 1_714_564_800),  # no zone: the servers keep UTC
        ("0001-01-01T00:00:00.0000000Z", None),  # "never"
        ("yesterday", None),
        (None, None),
        (17, None),
    ],
)
def test_dates(value: Any, expected: int | None) -> None:
    assert parse.epoch_seconds(value) == expected


def test_bad_shapes_are_absent_fields_not_crashes() -> None:
    node = {"Id": "9", "Type": "Movie", "RunTimeTicks": "x", "UserData": [], "ProviderIds": 3}
    item = parse.item(node, {})
    assert item is not None and item.duration_ms is None and item.external_ids == ()
    assert parse.item({"Type": "Movie"}, {}) is None
    with pytest.raises(parse.ParseError):
        parse.entries({"Error": "nope"})
    assert parse.entries([{"Id": "1"}, "junk"]) == ([{"Id": "1"}], None)


def test_identity_libraries_and_accounts() -> None:
    ident = parse.identity({"Id": "s" * 32, "ServerName": "Jelly", "Version": "10.10.3"})
    assert (ident.id, ident.name, ident.version) == ("s" * 32, "Jelly", "10.10.3")
    with pytest.raises(parse.ParseError):
        parse.identity({"ServerName": "no id"})
    folders = [
        {"Name": "Movies", "CollectionType": "movies", "ItemId": "1" * 32},
        {"Name": "Shows", "CollectionType": "tvshows", "ItemId": "2" * 32},
        {"Name": "Music", "CollectionType": "music", "ItemId": "3" * 32},
        {"Name": "Mixed", "ItemId": "4" * 32},
    ]
    assert [(lib.kind, lib.title) for lib in parse.libraries(folders)] == [
        (MOVIE, "Movies"),
        (SHOW, "Shows"),
        ("music", "Music"),
        ("mixed", "Mixed"),
    ]
    views = {"Items": [{"Id": "421370", "Name": "Films", "CollectionType": "movies"}]}
    assert parse.libraries(views) == [Library("421370", MOVIE, "Films")]
    users = [
        {"Id": "A" * 32, "Name": "admin", "Policy": {"IsAdministrator": True}},
        {"Id": "b" * 32, "Name": "alice", "Policy": {"IsAdministrator": False}},
        {"Name": "no id"},
    ]
    assert [(a.id, a.name, a.admin) for a in parse.accounts(users)] == [
        ("a" * 32, "admin", True),
        ("b" * 32, "alice", False),
    ]
    assert len(parse.accounts({"Items": users, "TotalRecordCount": 3})) == 2  # Emby's query


def test_sessions_and_devices() -> None:
    data = [
        {
            "DeviceId": "tv",
            "UserId": "u" * 32,
            "UserName": "alice",
            "NowPlayingItem": {"Id": "42"},
            "PlayState": {"IsPaused": True},
        },
        {"DeviceId": "phone", "UserId": "v" * 32, "UserName": "bob", "PlayState": {}},
        {"DeviceId": "script", "UserId": "0" * 32, "NowPlayingItem": {"Id": "7"}},
    ]
    sessions = parse.sessions(data)
    assert [(s.item_id, s.user_id, s.username, s.state, s.client_id) for s in sessions] == [
        ("42", "u" * 32, "alice", "paused", "tv"),
        ("7", "0" * 32, "", "playing", "script"),
    ]
    devices = parse.devices(data)  # idle clients too, never the API key's "no user"
    assert [(d.device_id, d.user_id, d.item_id) for d in devices] == [
        ("tv", "u" * 32, "42"),
        ("phone", "v" * 32, None),
    ]


def test_the_dialects_routes_and_credentials() -> None:
    jf, emby = Dialect("jellyfin"), Dialect("emby")
    assert jf.items("u") == ("/Items", {"userId": "u"})
    assert emby.items("u") == ("/Users/u/Items", {})
    assert jf.items(None) == emby.items(None) == ("/Items", {})
    assert jf.played("u", "i", "20240501120000") == [
        ("/UserPlayedItems/i", {"userId": "u", "datePlayed": "20240501120000"}),
        ("/Users/u/PlayedItems/i", {"datePlayed": "20240501120000"}),
    ]
    assert emby.played("u", "i", "20240501120000") == [
        ("/Users/u/PlayedItems/i", {"DatePlayed": "20240501120000"})
    ]
    assert emby.played("u", "i", None) == [("/Users/u/PlayedItems/i", {})]
    assert jf.user_data("u", "i")[0] == ("/UserItems/i/UserData", {"userId": "u"})
    assert emby.user_data("u", "i") == [("/Users/u/Items/i/UserData", {})]
    auth = jf.auth_headers("dev", "KEY")
    assert set(auth) == {"Authorization"}
    assert auth["Authorization"].startswith("MediaBrowser ")
    assert 'DeviceId="dev"' in auth["Authorization"] and 'Token="KEY"' in auth["Authorization"]
    emby_auth = emby.auth_headers("dev", "KEY")
    assert emby_auth["X-Emby-Token"] == "KEY" and "KEY" not in emby_auth["X-Emby-Authorization"]
    assert (jf.has_users_me, emby.has_users_me) == (True, False)
    with pytest.raises(ValueError):
        Dialect("plex")
