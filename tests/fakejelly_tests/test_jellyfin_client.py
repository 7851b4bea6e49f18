"""The Jellyfin dialect driven by jellyfin-apiclient-python (the client jellyfin-mpv-shim uses)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jellyfin_apiclient_python import JellyfinClient
from jellyfin_apiclient_python.exceptions import HTTPException

from tests.fakeplex import Cluster

MIN = 60 * 10_000_000  # ticks in a minute
Login = Callable[[str], JellyfinClient]


def test_login_and_users(mixed: Cluster, jf_login: Login) -> None:
    admin = jf_login("admin")
    alice = jf_login("alice")
    assert alice.config.data["auth.user_id"] == mixed.user_id("alice", "jelly")
    assert alice.config.data["auth.token"] == mixed.token_for("alice", "jelly")
    names = {u["Name"]: u["Policy"]["IsAdministrator"] for u in admin.jellyfin.get_users()}
    assert names == {"admin": True, "Alice Liddell": False}
    me = alice.jellyfin.get_user()  # GET Users/{UserId}
    assert me["Id"] == mixed.user_id("alice", "jelly") and me["ServerId"]
    assert alice.jellyfin._get("Users/Me")["Name"] == "Alice Liddell"
    with pytest.raises(HTTPException):  # GET /Users is for administrators
        alice.jellyfin.get_users()


def test_views_and_items_paging(mixed: Cluster, jf_login: Login) -> None:
    alice = jf_login("alice")
    views = alice.jellyfin.get_views()["Items"]
    assert [(v["Name"], v["CollectionType"]) for v in views] == [
        ("Movies", "movies"),
        ("Shows", "tvshows"),
    ]
    seen: list[dict] = []
    start = 0
    while True:
        page = alice.jellyfin.user_items(
            params={
                "Recursive": True,
                "IncludeItemTypes": "Movie,Episode",
                "Fields": "ProviderIds",
                "SortBy": "SortName",
                "StartIndex": start,
                "Limit": 5,
            }
        )
        seen.extend(page["Items"])
        start += len(page["Items"])
        if start >= page["TotalRecordCount"]:
            break
    # 4 movies + Office (10) + Dark season 1 (4)
    assert len(seen) == 18 and len({i["Id"] for i in seen}) == 18
    matrix = next(i for i in seen if i["Name"] == "The Matrix")
    assert matrix["ProviderIds"] == {"Imdb": "tt0133093", "Tmdb": "603"}
    assert matrix["UserData"]["Played"] is False
    ep = next(i for i in seen if i["Name"] == "Diversity Day")
    assert (ep["ParentIndexNumber"], ep["IndexNumber"]) == (1, 2)
    assert ep["SeriesId"] == mixed.item_id("jelly", "office")
    # Without Fields=ProviderIds a listing leaves them out, as the server does.
    bare = alice.jellyfin.get_items([matrix["Id"]], fields="")["Items"][0]
    assert "ProviderIds" not in bare
    one = alice.jellyfin.get_item(matrix["Id"])
    assert one["ProviderIds"]["Imdb"] == "tt0133093"
    eps = alice.jellyfin.get_episodes(mixed.item_id("jelly", "office"))["Items"]
    assert [(e["ParentIndexNumber"], e["IndexNumber"]) for e in eps][:3] == [(1, 1), (1, 2), (1, 3)]


def _play(client: JellyfinClient, item_id: str, stop_at: int) -> None:
    base = {"ItemId": item_id, "PlaySessionId": "ps1", "IsPaused": False}
    client.jellyfin.session_playing({**base, "PositionTicks": 0})
    client.jellyfin.session_progress({**base, "PositionTicks": stop_at // 2})
    client.jellyfin.session_stop({**base, "PositionTicks": stop_at})


def test_playback_rules(mixed: Cluster, jf_login: Login) -> None:
    alice = jf_login("alice")
    matrix = mixed.item_id("jelly", "matrix")  # 136 min
    _play(alice, matrix, 20 * MIN)
    assert mixed.state("jelly", "alice", "matrix")["position_ms"] == 20 * 60_000
    assert mixed.state("jelly", "alice", "matrix")["played"] is False
    _play(alice, matrix, 3 * MIN)  # under 5 %: the resume point is dropped
    assert mixed.state("jelly", "alice", "matrix")["position_ms"] == 0
    _play(alice, matrix, 130 * MIN)  # over 90 %: played, position reset
    st = mixed.state("jelly", "alice", "matrix")
    assert (st["played"], st["position_ms"], st["play_count"]) == (True, 0, 3)
    # Jellyfin unmarks a resumable item when playback starts again.
    alice.jellyfin.session_playing({"ItemId": matrix, "PositionTicks": 0})
    assert mixed.state("jelly", "alice", "matrix")["played"] is False
    short = mixed.item_id("jelly", "short")  # 4 min: past 5 % counts as watched
    _play(alice, short, MIN)
    assert mixed.state("jelly", "alice", "short")["played"] is True


def test_api_key_reports_change_no_user_data(mixed: Cluster, jf_login: Login) -> None:
    admin = jf_login("admin")
    admin.config.data["auth.token"] = mixed.api_key("jelly")
    inception = mixed.item_id("jelly", "inception")
    admin.jellyfin.session_stop({"ItemId": inception, "PositionTicks": 20 * MIN})
    for user in ("admin", "alice"):
        assert mixed.state("jelly", user, "inception")["position_ms"] == 0


def test_marks_and_user_data(mixed: Cluster, jf_login: Login) -> None:
    alice = jf_login("alice")
    heat = mixed.item_id("jelly", "heat")
    data = alice.jellyfin.item_played(heat, True, date="2024-05-01T10:00:00.0000000Z")
    assert data["Played"] is True and data["LastPlayedDate"].startswith("2024-05-01T10:00:00")
    assert mixed.state("jelly", "alice", "heat")["played"] is True
    data = alice.jellyfin.item_played(heat, False)
    assert data["Played"] is False and "LastPlayedDate" not in data
    # Jellyfin 10.9+ user-data endpoint: only the members sent change.
    alice.jellyfin._post(
        f"UserItems/{heat}/UserData",
        json={"PlaybackPositionTicks": 25 * MIN},
        params={"userId": "{UserId}"},
    )
    got = alice.jellyfin.get_userdata_for_item(heat)
    assert (got["PlaybackPositionTicks"], got["Played"]) == (25 * MIN, False)
    # Marking a series marks every episode.
    alice.jellyfin.item_played(mixed.item_id("jelly", "dark"), True)
    assert mixed.state("jelly", "alice", "dark/s01e04")["played"] is True


def test_user_token_refused_for_another_user(mixed: Cluster, jf_login: Login) -> None:
    alice = jf_login("alice")
    admin_id = mixed.user_id("admin", "jelly")
    heat = mixed.item_id("jelly", "heat")
    with pytest.raises(HTTPException) as exc:
        alice.jellyfin._post(f"Users/{admin_id}/PlayedItems/{heat}")
    assert exc.value.status == 403
    assert mixed.state("jelly", "admin", "heat")["played"] is False
    # The admin may act for any user id.
    admin = jf_login("admin")
    admin.jellyfin._post(f"Users/{mixed.user_id('alice', 'jelly')}/PlayedItems/{heat}")
    assert mixed.state("jelly", "alice", "heat")["played"] is True


def test_sessions(mixed: Cluster, jf_login: Login) -> None:
    alice = jf_login("alice")
    admin = jf_login("admin")
    matrix = mixed.item_id("jelly", "matrix")
    alice.jellyfin.session_playing({"ItemId": matrix, "PositionTicks": 10 * MIN})
    alice.jellyfin.session_progress({"ItemId": matrix, "PositionTicks": 11 * MIN, "IsPaused": True})
    rows = admin.jellyfin.sessions()
    playing = [s for s in rows if s.get("NowPlayingItem")]
    assert len(playing) == 1
    s = playing[0]
    assert (s["UserName"], s["DeviceId"], s["Client"]) == (
        "Alice Liddell",
        "dev-alice",
        "plex-cluster-tests",
    )
    assert s["NowPlayingItem"]["Id"] == matrix
    assert s["PlayState"] == {**s["PlayState"], "PositionTicks": 11 * MIN, "IsPaused": True}
    own = alice.jellyfin.sessions()
    assert {r["UserId"] for r in own} == {mixed.user_id("alice", "jelly")}
