"""The Emby dialect driven by embyclient (generated from Emby's own OpenAPI spec)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import emby_client
import pytest
from emby_client.rest import ApiException

from tests.fakeplex import Cluster

MIN = 60 * 10_000_000  # ticks in a minute
Make = Callable[[str | None], Any]
AUTH = 'Emby Client="tests", Device="box", DeviceId="dev-emby", Version="1.0"'


def test_login_public_info_and_users(mixed: Cluster, emby_api: Make) -> None:
    anon = emby_api(None)
    info = emby_client.SystemServiceApi(anon).get_system_info_public()
    assert info.id == mixed.jellyfin("emby").server_id and info.version == "4.8.10.0"
    body = emby_client.AuthenticateUserByName(username="alice", pw="alice-password")
    res = emby_client.UserServiceApi(anon).post_users_authenticatebyname(body, AUTH)
    assert res.access_token == mixed.token_for("alice", "emby")
    assert res.user.id == mixed.user_id("alice", "emby") and res.server_id
    users = emby_client.UserServiceApi(emby_api(None)).get_users_query()
    assert {u.name: u.policy.is_administrator for u in users.items} == {
        "admin": True,
        "alice": False,
        "bob": False,
    }
    with pytest.raises(ApiException) as exc:  # wrong password
        emby_client.UserServiceApi(anon).post_users_authenticatebyname(
            emby_client.AuthenticateUserByName(username="alice", pw="nope"), AUTH
        )
    assert exc.value.status == 401
    with pytest.raises(ApiException) as exc:  # listing users is for administrators
        emby_client.UserServiceApi(emby_api("bob")).get_users_query()
    assert exc.value.status == 401


def test_items_paging_ids_and_user_data(mixed: Cluster, emby_api: Make) -> None:
    api = emby_client.ItemsServiceApi(emby_api("alice"))
    uid = mixed.user_id("alice", "emby")
    got: list[Any] = []
    start = 0
    while True:
        page = api.get_users_by_userid_items(
            uid,
            recursive=True,
            include_item_types="Movie,Episode",
            fields="ProviderIds",
            sort_by="SortName",
            start_index=start,
            limit=4,
        )
        got.extend(page.items)
        start += len(page.items)
        if start >= page.total_record_count:
            break
    assert len(got) == 13  # matrix, arrival, heat + 10 Office episodes
    assert all(i.id.isdigit() for i in got)  # Emby item ids are numeric strings
    heat = next(i for i in got if i.name == "Heat")
    assert heat.provider_ids == {"Imdb": "tt0113277", "Tmdb": "949"}
    assert heat.user_data.played is False and heat.user_data.playback_position_ticks == 0
    # bob sees the movie library only.
    bob = emby_client.ItemsServiceApi(emby_api("bob")).get_users_by_userid_items(
        mixed.user_id("bob", "emby"), recursive=True, include_item_types="Movie,Episode"
    )
    assert sorted(i.name for i in bob.items) == ["Arrival", "Heat", "The Matrix"]


def _report(client: Any, item_id: str, ticks: int) -> None:
    ps = emby_client.PlaystateServiceApi(client)
    ps.post_sessions_playing(emby_client.PlaybackStartInfo(item_id=item_id, position_ticks=0))
    ps.post_sessions_playing_progress(
        emby_client.PlaybackProgressInfo(item_id=item_id, position_ticks=ticks // 2)
    )
    ps.post_sessions_playing_stopped(
        emby_client.PlaybackStopInfo(item_id=item_id, position_ticks=ticks)
    )


def test_playback_rules(mixed: Cluster, emby_api: Make) -> None:
    alice = emby_api("alice")
    matrix = mixed.item_id("emby", "matrix")
    _report(alice, matrix, 20 * MIN)
    assert mixed.state("emby", "alice", "matrix")["position_ms"] == 20 * 60_000
    _report(alice, matrix, 130 * MIN)
    assert mixed.state("emby", "alice", "matrix")["played"] is True
    # Emby leaves Played alone when playback starts again.
    emby_client.PlaystateServiceApi(alice).post_sessions_playing(
        emby_client.PlaybackStartInfo(item_id=matrix, position_ticks=0)
    )
    assert mixed.state("emby", "alice", "matrix")["played"] is True
    # The API key is nobody: its reports change no user's data.
    _report(emby_api(None), mixed.item_id("emby", "heat"), 20 * MIN)
    assert mixed.state("emby", "alice", "heat")["position_ms"] == 0


def test_marks_user_data_and_permissions(mixed: Cluster, emby_api: Make) -> None:
    ps = emby_client.PlaystateServiceApi(emby_api("alice"))
    uid = mixed.user_id("alice", "emby")
    arrival = mixed.item_id("emby", "arrival")
    data = ps.post_users_by_userid_playeditems_by_id(uid, arrival, date_played="20240501100000")
    assert data.played is True and data.last_played_date.year == 2024
    data = ps.delete_users_by_userid_playeditems_by_id(uid, arrival)
    assert data.played is False and data.play_count == 0
    ps.post_users_by_userid_playeditems_by_id(uid, arrival)
    data = ps.post_users_by_userid_playeditems_by_id_delete(uid, arrival)  # Emby's POST form
    assert data.played is False
    body = emby_client.UserItemDataDto(playback_position_ticks=30 * MIN, played=False)
    assert ps.post_users_by_userid_items_by_itemid_userdata(body, uid, arrival) is None
    assert mixed.state("emby", "alice", "arrival")["position_ms"] == 30 * 60_000
    with pytest.raises(ApiException) as exc:  # alice's token for bob's id
        ps.post_users_by_userid_playeditems_by_id(mixed.user_id("bob", "emby"), arrival)
    assert exc.value.status == 401
    # The API key may write for anybody.
    admin = emby_client.PlaystateServiceApi(emby_api(None))
    admin.post_users_by_userid_playeditems_by_id(mixed.user_id("bob", "emby"), arrival)
    assert mixed.state("emby", "bob", "arrival")["played"] is True


def test_sessions(mixed: Cluster, emby_api: Make) -> None:
    alice = emby_api("alice")
    alice.default_headers["X-Emby-Authorization"] = AUTH
    matrix = mixed.item_id("emby", "matrix")
    emby_client.PlaystateServiceApi(alice).post_sessions_playing(
        emby_client.PlaybackStartInfo(item_id=matrix, position_ticks=5 * MIN, is_paused=True)
    )
    sessions = emby_client.SessionsServiceApi(emby_api(None)).get_sessions()
    playing = [s for s in sessions if s.now_playing_item is not None]
    assert len(playing) == 1
    s = playing[0]
    assert (s.user_name, s.device_id, s.now_playing_item.id) == ("alice", "dev-emby", matrix)
    assert (s.play_state.position_ticks, s.play_state.is_paused) == (5 * MIN, True)
