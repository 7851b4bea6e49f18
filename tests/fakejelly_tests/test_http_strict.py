"""Strictness of both dialects with plain HTTP: credentials, unknown routes, ids, casing."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.fakeplex import Cluster

MB = 'MediaBrowser Client="t", Device="d", DeviceId="dev-1", Version="1", Token="{}"'


def test_credentials(mixed: Cluster) -> None:
    for name in ("jelly", "emby"):
        srv = mixed.jellyfin(name)
        assert httpx.get(f"{srv.url}/System/Info/Public").status_code == 200
        assert httpx.get(f"{srv.url}/System/Info").status_code == 401
        assert httpx.get(f"{srv.url}/System/Info", params={"api_key": "nope"}).status_code == 401
        key = srv.api_key
        for headers, params in (
            ({"Authorization": MB.format(key)}, {}),
            ({"X-Emby-Authorization": MB.format(key)}, {}),
            ({"X-Emby-Token": key}, {}),
            ({"X-MediaBrowser-Token": key}, {}),
            ({}, {"api_key": key}),
            ({}, {"ApiKey": key}),
        ):
            r = httpx.get(f"{srv.url}/System/Info", headers=headers, params=params)
            assert r.status_code == 200, (name, headers, params)
        srv.revoke_token(key)
        assert httpx.get(f"{srv.url}/System/Info", params={"api_key": key}).status_code == 401
    recorded = mixed.jellyfin("jelly").requests
    assert any(r.token == mixed.api_key("jelly") and r.client_id == "dev-1" for r in recorded)


def test_routes_case_and_prefix(mixed: Cluster) -> None:
    jelly, emby = mixed.jellyfin("jelly"), mixed.jellyfin("emby")
    h = {"X-Emby-Token": jelly.api_key}
    assert httpx.get(f"{jelly.url}/sYsTeM/iNfO/pUbLiC").status_code == 200
    assert httpx.get(f"{jelly.url}/users", headers=h).status_code == 200
    assert httpx.get(f"{jelly.url}/nope", headers=h).status_code == 404
    assert httpx.get(f"{jelly.url}/emby/System/Info/Public").status_code == 404
    assert httpx.get(f"{emby.url}/emby/System/Info/Public").status_code == 200
    assert (
        httpx.get(f"{emby.url}/EMBY/users/query", params={"API_KEY": emby.api_key}).status_code
        == 200
    )
    # Jellyfin has /Users/Me; Emby does not (its /Users/{Id} finds no user "Me").
    tok = mixed.token_for("alice", "jelly")
    assert (
        httpx.get(f"{jelly.url}/Users/Me", headers={"X-Emby-Token": tok}).json()["Name"]
        == "Alice Liddell"
    )
    etok = mixed.token_for("alice", "emby")
    assert httpx.get(f"{emby.url}/emby/Users/Me", params={"api_key": etok}).status_code == 404


def test_ids(mixed: Cluster) -> None:
    jelly, emby = mixed.jellyfin("jelly"), mixed.jellyfin("emby")
    jh = {"X-Emby-Token": jelly.api_key}
    uid = mixed.user_id("alice", "jelly")
    assert httpx.get(f"{jelly.url}/Items/not-a-guid", headers=jh).status_code == 400
    assert httpx.get(f"{jelly.url}/Items/{'0' * 32}", headers=jh).status_code == 404
    matrix = mixed.item_id("jelly", "matrix")
    dashed = f"{matrix[:8]}-{matrix[8:12]}-{matrix[12:16]}-{matrix[16:20]}-{matrix[20:]}"
    r = httpx.get(f"{jelly.url}/Items/{dashed.upper()}", headers=jh, params={"userId": uid})
    assert r.status_code == 200 and r.json()["Id"] == matrix
    assert httpx.get(f"{jelly.url}/Users/xyz", headers=jh).status_code == 400
    # arrival is not on the Jellyfin server; inception is not on Emby.
    assert "arrival" not in jelly.library.by_key and "inception" not in emby.library.by_key
    eh = {"X-Emby-Token": emby.api_key}
    assert (
        httpx.get(
            f"{emby.url}/Users/{mixed.user_id('alice', 'emby')}/Items/abc", headers=eh
        ).status_code
        == 404
    )
    # Emby has no GET /Items/{id}.
    assert (
        httpx.get(f"{emby.url}/Items/{mixed.item_id('emby', 'matrix')}", headers=eh).status_code
        == 404
    )


def test_user_token_and_items_query(mixed: Cluster) -> None:
    jelly = mixed.jellyfin("jelly")
    h = {"X-Emby-Token": mixed.token_for("alice", "jelly")}
    admin_id = mixed.user_id("admin", "jelly")
    assert (
        httpx.get(f"{jelly.url}/Items", headers=h, params={"userId": admin_id}).status_code == 403
    )
    mixed.set_state("jelly", "alice", "heat", played=True, last_played_at=1_714_557_600)
    mixed.set_state("jelly", "alice", "matrix", position_ms=600_000)
    q = {"Recursive": "true", "IncludeItemTypes": "Movie"}
    played = httpx.get(f"{jelly.url}/Items", headers=h, params={**q, "IsPlayed": "true"}).json()
    assert [i["Name"] for i in played["Items"]] == ["Heat"]
    assert played["Items"][0]["UserData"]["LastPlayedDate"] == "2024-05-01T10:00:00.0000000Z"
    res = httpx.get(f"{jelly.url}/Items", headers=h, params={**q, "Filters": "IsResumable"}).json()
    assert [i["Name"] for i in res["Items"]] == ["The Matrix"]
    page = httpx.get(
        f"{jelly.url}/Items", headers=h, params={**q, "StartIndex": 1, "Limit": 2}
    ).json()
    assert (page["TotalRecordCount"], page["StartIndex"], len(page["Items"])) == (4, 1, 2)
    assert httpx.get(f"{jelly.url}/Items", headers=h, params={"Limit": "-1"}).status_code == 400
    # Played over an API-key list without a user: no UserData at all.
    bare = httpx.get(f"{jelly.url}/Items", headers={"X-Emby-Token": jelly.api_key}, params=q).json()
    assert all("UserData" not in i for i in bare["Items"])


def test_cluster_state_is_uniform(mixed: Cluster) -> None:
    for server in ("plex", "jelly", "emby"):
        mixed.set_state(server, "alice", "matrix", position_ms=1_200_000)
        st = mixed.state(server, "alice", "matrix")
        assert (st["played"], st["position_ms"]) == (False, 1_200_000), server
    assert [mixed.kind(s) for s in ("plex", "jelly", "emby")] == ["plex", "jellyfin", "emby"]


def test_cli_serves_mixed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeplex", "--fixture", "mixed"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        desc = json.loads(proc.stdout.readline())
        kinds = {s["name"]: s["kind"] for s in desc["servers"]}
        assert kinds == {"plex": "plex", "jelly": "jellyfin", "emby": "emby"}
        emby = next(s for s in desc["servers"] if s["kind"] == "emby")
        r = httpx.get(f"{emby['url']}/emby/System/Info", params={"api_key": emby["api_key"]})
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
