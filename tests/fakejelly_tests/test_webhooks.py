"""Jellyfin (Webhook plugin, Generic destination) and Emby (native) webhooks of the emulator,
driven by jellyfin-apiclient-python and embyclient, caught by a stdlib receiver."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import emby_client
import pytest
from jellyfin_apiclient_python import JellyfinClient

from tests.fakejelly.hooks import CONFIG_TEMPLATE, TEST_TEMPLATE
from tests.fakeplex import Cluster
from tests.support.hook_receiver import HookReceiver

MIN = 60 * 10_000_000  # ticks
DASHED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def rx() -> Iterator[HookReceiver]:
    r = HookReceiver()
    yield r
    r.stop()


def _jf_events(rx: HookReceiver) -> list[tuple[str, str | None]]:
    return [(p["NotificationType"], p.get("SaveReason")) for p in (r.json() for r in rx.received)]


def test_jellyfin_playback_and_user_data_saved(
    mixed: Cluster, jf_login: Callable[[str], JellyfinClient], rx: HookReceiver
) -> None:
    mixed.webhook_to("jelly", rx.url, template=TEST_TEMPLATE)
    alice = jf_login("alice")
    matrix = mixed.item_id("jelly", "matrix")
    alice.jellyfin.session_playing({"ItemId": matrix, "PositionTicks": 0})
    alice.jellyfin.session_stop({"ItemId": matrix, "PositionTicks": 20 * MIN})
    assert mixed.flush_webhooks()
    assert _jf_events(rx) == [
        ("PlaybackStart", None),
        ("UserDataSaved", "PlaybackStart"),
        ("PlaybackStop", None),
        ("UserDataSaved", "PlaybackFinished"),
    ]
    stop = rx.received[2]
    assert stop.content_type == "text/plain; charset=utf-8"  # the plugin's default
    p = stop.json()
    srv = mixed.jellyfin("jelly")
    assert DASHED.match(p["ItemId"]) and p["ItemId"].replace("-", "") == matrix
    assert p["UserId"].replace("-", "") == srv.user_id("alice")
    assert p["NotificationUsername"] == "Alice Liddell"
    assert p["PlaybackPositionTicks"] == 20 * MIN and p["PlayedToCompletion"] is False
    assert p["ClientName"] == "plex-cluster-tests" and p["DeviceName"] == "alice-box"
    assert p["Provider_imdb"] == "tt0133093" and p["ItemType"] == "Movie"
    assert p["ServerId"].replace("-", "") == srv.server_id


def test_jellyfin_item_played_is_toggle_played_per_episode(
    mixed: Cluster, jf_login: Callable[[str], JellyfinClient], rx: HookReceiver
) -> None:
    mixed.webhook_to("jelly", rx.url, template=TEST_TEMPLATE, content_type="application/json")
    alice = jf_login("alice")
    alice.jellyfin.item_played(mixed.item_id("jelly", "heat"), True)
    alice.jellyfin.item_played(mixed.item_id("jelly", "dark"), True)  # 4 episodes
    alice.jellyfin.item_played(mixed.item_id("jelly", "heat"), False)
    assert mixed.flush_webhooks()
    got = [r.json() for r in rx.received]
    assert [(p["SaveReason"], p["Played"]) for p in got] == [("TogglePlayed", True)] * 5 + [
        ("TogglePlayed", False)
    ]
    assert rx.received[0].content_type == "application/json; charset=utf-8"
    ep = got[1]
    assert ep["ItemType"] == "Episode" and ep["SeriesName"] == "Dark"
    assert (ep["SeasonNumber"], ep["EpisodeNumber"]) == (1, 1)


def test_jellyfin_send_all_properties_and_quiet_setup(mixed: Cluster, rx: HookReceiver) -> None:
    srv = mixed.jellyfin("jelly")
    mixed.webhook_to("jelly", rx.url, body="all")
    mixed.set_state("jelly", "alice", "matrix", played=True)  # test set-up: no webhook
    # The API key writing for a user (what the manager does) fires UserDataSaved too.
    iid = mixed.item_id("jelly", "inception")
    req = urllib.request.Request(
        f"{srv.url}/UserItems/{iid}/UserData?userId={srv.user_id('alice')}",
        data=json.dumps({"PlaybackPositionTicks": 30 * MIN}).encode(),
        headers={"Content-Type": "application/json", "X-Emby-Token": srv.api_key},
        method="POST",
    )
    urllib.request.urlopen(req).read()
    assert mixed.flush_webhooks()
    (only,) = rx.received
    p = only.json()
    assert p["NotificationType"] == "UserDataSaved" and p["SaveReason"] == "UpdateUserData"
    assert p["ItemId"] == iid  # Send All Properties: Guid as 32 hex digits
    assert p["PlaybackPositionTicks"] == 30 * MIN and p["Played"] is False


@pytest.mark.parametrize("body", ["multipart", "json"])
def test_emby_marks_and_playback_stop(
    mixed: Cluster, emby_api: Callable[[str | None], Any], rx: HookReceiver, body: str
) -> None:
    srv = mixed.jellyfin("emby")
    mixed.webhook_to("emby", rx.url, body=body)
    uid = srv.user_id("alice")
    matrix = mixed.item_id("emby", "matrix")
    ps = emby_client.PlaystateServiceApi(emby_api("alice"))
    ps.post_users_by_userid_playeditems_by_id(uid, matrix)
    ps.delete_users_by_userid_playeditems_by_id(uid, matrix)
    ps.post_sessions_playing(emby_client.PlaybackStartInfo(item_id=matrix, position_ticks=0))
    ps.post_sessions_playing_stopped(
        emby_client.PlaybackStopInfo(item_id=matrix, position_ticks=20 * MIN)
    )
    assert mixed.flush_webhooks()
    assert rx.events("Event") == [
        "item.markplayed",
        "item.markunplayed",
        "playback.start",
        "playback.stop",
    ]
    r = rx.received[-1]
    assert r.headers["user-agent"] == f"Emby Server/{srv.version}"
    if body == "json":
        assert r.content_type == "application/json"
    else:
        assert r.content_type.startswith("multipart/form-data; boundary=")
        assert set(r.parts()) == {"data"}
    p = r.json()
    assert p["User"] == {"Name": "alice", "Id": uid}
    assert p["Item"]["Id"] == matrix and p["Item"]["Type"] == "Movie"
    assert p["Item"]["ProviderIds"]["Imdb"] == "tt0133093"
    assert p["Server"] == {"Name": srv.friendly_name, "Id": srv.server_id, "Version": srv.version}
    assert p["PlaybackInfo"]["PositionTicks"] == 20 * MIN
    assert p["PlaybackInfo"]["PlayedToCompletion"] is False
    assert set(p["Session"]) >= {"Client", "DeviceName", "DeviceId", "Id"}


def test_emby_api_key_mark_names_its_client(
    mixed: Cluster, emby_api: Callable[[str | None], Any], rx: HookReceiver
) -> None:
    srv = mixed.jellyfin("emby")
    mixed.webhook_to("emby", rx.url, body="json")
    ps = emby_client.PlaystateServiceApi(emby_api(None))
    ps.post_users_by_userid_playeditems_by_id(srv.user_id("alice"), mixed.item_id("emby", "heat"))
    assert mixed.flush_webhooks()
    (r,) = rx.received
    p = r.json()
    assert p["Event"] == "item.markplayed" and p["User"]["Id"] == srv.user_id("alice")
    assert "Session" in p  # whoever made the change: here the API key's own session


def test_config_template_renders_json_when_present(mixed: Cluster, rx: HookReceiver) -> None:
    if not CONFIG_TEMPLATE.is_file():
        pytest.skip("config/jellyfin-webhook-template.json not written yet (branch hook)")
    mixed.webhook_to("jelly", rx.url)
    srv = mixed.jellyfin("jelly")
    iid = mixed.item_id("jelly", "office/s01e02")
    srv.set_state("alice", iid, played=False)
    req = urllib.request.Request(
        f"{srv.url}/Users/{srv.user_id('alice')}/PlayedItems/{iid}",
        headers={"X-Emby-Token": srv.api_key},
        method="POST",
    )
    urllib.request.urlopen(req).read()
    assert mixed.flush_webhooks()
    p = rx.received[0].json()
    assert p["NotificationType"] == "UserDataSaved"
