"""Plain HTTP against the emulated plex.tv."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.fakeplex import Cluster, start_cluster

CID = {"X-Plex-Client-Identifier": "plextv-test"}


def tv(cluster: Cluster, user: str = "admin", **extra: str) -> httpx.Client:
    return httpx.Client(
        base_url=cluster.plextv_url,
        headers={"X-Plex-Token": cluster.account_token(user), **CID, **extra},
    )


def test_v2_user_xml_json_and_errors(demo_cluster: Cluster) -> None:
    with tv(demo_cluster, "alice") as c:
        u = ET.fromstring(c.get("/api/v2/user").content)
        assert u.tag == "user" and u.get("username") == "alice" and u.get("id") == "2002"
        assert u.find("subscription") is not None
        js = c.get("/api/v2/user", headers={"Accept": "application/json"}).json()
        assert js["id"] == 2002 and js["uuid"] and js["title"] == "alice"
        assert js["home"] is False and js["restricted"] is False
        assert js["authToken"] == demo_cluster.account_token("alice")
    base = demo_cluster.plextv_url
    r = httpx.get(
        base + "/api/v2/user", headers={"X-Plex-Token": "nope", **CID, "Accept": "application/json"}
    )
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == 1001
    r = httpx.get(
        base + "/api/v2/user", headers={"X-Plex-Token": demo_cluster.account_token("alice")}
    )
    assert r.status_code == 400  # no client identifier
    # query-string token and client id work too
    r = httpx.get(
        base + "/api/v2/user",
        params={"X-Plex-Token": demo_cluster.account_token("bob"), "X-Plex-Client-Identifier": "q"},
        headers={"Accept": "application/json"},
    )
    assert r.json()["username"] == "bob"
    # a per-server token is not a plex.tv token
    r = httpx.get(
        base + "/api/v2/user",
        headers={"X-Plex-Token": demo_cluster.token_for("alice", "alpha"), **CID},
    )
    assert r.status_code == 401


def test_users_list(demo_cluster: Cluster) -> None:
    with tv(demo_cluster) as c:
        r = c.get("/api/users/")
        assert r.status_code == 200
        root = ET.fromstring(r.content)
    users = {u.get("title"): u for u in root.findall("User")}
    assert set(users) == {"alice", "bob", "kid"}
    assert users["alice"].get("username") == "alice" and users["alice"].get("home") == "0"
    assert users["kid"].get("username") == "" and users["kid"].get("home") == "1"
    assert users["kid"].get("restricted") == "1" and users["kid"].get("id") == "4004"
    bob_servers = {s.get("machineIdentifier") for s in users["bob"].findall("Server")}
    assert bob_servers == {
        demo_cluster.servers["alpha"].machine_identifier,
        demo_cluster.servers["beta"].machine_identifier,
    }
    with tv(demo_cluster, "alice") as c:
        assert ET.fromstring(c.get("/api/users").content).get("size") == "0"


def test_shared_servers_give_per_server_access_tokens(demo_cluster: Cluster) -> None:
    for name, srv in demo_cluster.servers.items():
        with tv(demo_cluster) as c:
            r = c.get(f"/api/servers/{srv.machine_identifier}/shared_servers")
        assert r.status_code == 200
        root = ET.fromstring(r.content)
        assert root.get("machineIdentifier") == srv.machine_identifier
        got = {
            s.get("username"): (s.get("userID"), s.get("accessToken"))
            for s in root.findall("SharedServer")
        }
        expected_users = {"alpha": {"alice", "bob"}, "beta": {"alice", "bob"}, "gamma": {"alice"}}[
            name
        ]
        assert set(got) == expected_users
        for user, (uid, token) in got.items():
            assert uid == str(demo_cluster.spec.accounts[user].id)
            assert token == demo_cluster.token_for(user, name)
            assert (
                httpx.get(
                    srv.url + "/library/sections", headers={"X-Plex-Token": token}
                ).status_code
                == 200
            )
        sections = root.find("SharedServer").findall("Section")
        assert {s.get("shared") for s in sections} == {"1"}
    alpha = demo_cluster.servers["alpha"].machine_identifier
    with tv(demo_cluster, "alice") as c:
        assert c.get(f"/api/servers/{alpha}/shared_servers").status_code == 401
    with tv(demo_cluster) as c:
        assert c.get("/api/servers/0000/shared_servers").status_code == 404


def test_home_users_v1_and_v2(demo_cluster: Cluster) -> None:
    with tv(demo_cluster) as c:
        root = ET.fromstring(c.get("/api/home/users").content)
        v1 = {u.get("title"): u for u in root.findall("User")}
        assert set(v1) == {"admin", "kid"}
        assert v1["admin"].get("admin") == "1" and v1["kid"].get("restricted") == "1"
        v2 = c.get("/api/v2/home/users", headers={"Accept": "application/json"}).json()
        assert {u["title"]: u["admin"] for u in v2["users"]} == {"admin": True, "kid": False}
        kid = next(u for u in v2["users"] if u["title"] == "kid")
        assert kid["uuid"] == v1["kid"].get("uuid") and kid["id"] == 4004


def test_switch_both_forms_then_resources(demo_cluster: Cluster) -> None:
    kid_token = demo_cluster.account_token("kid")
    with tv(demo_cluster) as c:
        r = c.post("/api/home/users/4004/switch")
        assert r.status_code == 201
        assert ET.fromstring(r.content).get("authenticationToken") == kid_token
        uuid = demo_cluster.spec.accounts["kid"].uuid
        r = c.post(f"/api/v2/home/users/{uuid}/switch", headers={"Accept": "application/json"})
        assert r.status_code == 201 and r.json()["authToken"] == kid_token
        assert c.post("/api/home/users/2002/switch").status_code == 404  # alice: not home
        assert c.get("/api/home/users/4004/switch").status_code == 405
    with tv(demo_cluster, "kid", Accept="application/json") as kc:
        me = kc.get("/api/v2/user").json()
        assert me["restricted"] is True and me["home"] is True and me["id"] == 4004
        res = kc.get("/api/v2/resources", params={"includeHttps": 1, "includeRelay": 1}).json()
    by_id = {r["clientIdentifier"]: r for r in res}
    for name, srv in demo_cluster.servers.items():
        entry = by_id[srv.machine_identifier]
        assert entry["accessToken"] == demo_cluster.token_for("kid", name)
        assert entry["owned"] is False and entry["provides"] == "server"
        assert entry["connections"][0]["uri"] == srv.url


def test_resources_per_account(demo_cluster: Cluster) -> None:
    for user, names in (("admin", {"alpha", "beta", "gamma"}), ("bob", {"alpha", "beta"})):
        with tv(demo_cluster, user, Accept="application/json") as c:
            res = c.get("/api/v2/resources").json()
        got = {r["name"].lower(): r for r in res}
        assert set(got) == names
        for name in names:
            assert got[name]["accessToken"] == demo_cluster.token_for(user, name)
            assert got[name]["owned"] is (user == "admin")
    with tv(demo_cluster, "bob") as c:
        root = ET.fromstring(c.get("/api/v2/resources").content)
    assert root.tag == "resources" and len(root.findall("resource/connections/connection")) == 2


def test_switch_with_pin() -> None:
    fixture = {
        "accounts": {"boss": {}, "tot": {"managed": True, "home": "boss", "pin": "1234"}},
        "movies": {"a": {}},
        "servers": {
            "one": {
                "owner": "boss",
                "users": ["tot"],
                "sections": [{"id": 1, "title": "Movies", "type": "movie", "items": ["a"]}],
            }
        },
    }
    with start_cluster(fixture) as cl, tv(cl, "boss") as c:
        uid = cl.spec.accounts["tot"].id
        assert c.post(f"/api/home/users/{uid}/switch").status_code == 401
        assert c.post(f"/api/home/users/{uid}/switch", params={"pin": "0000"}).status_code == 401
        r = c.post(f"/api/home/users/{uid}/switch", params={"pin": "1234"})
        assert r.status_code == 201
        assert ET.fromstring(r.content).get("authenticationToken") == cl.account_token("tot")


@pytest.mark.parametrize("status", [429, 503])
def test_plextv_failures_injectable(demo_cluster: Cluster, status: int) -> None:
    demo_cluster.plextv.fail_next(1, status)
    with tv(demo_cluster) as c:
        assert c.get("/api/users").status_code == status
        assert c.get("/api/users").status_code == 200
