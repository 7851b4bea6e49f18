"""Plain HTTP to the emulated PMS on who is playing and who may ask: /status/sessions,
/accounts and /:/progress per kind of user."""

from __future__ import annotations

from tests.fakeplex import Cluster, FakeServer

from .http_helpers import CID, as_user, owner, xml


def test_sessions_while_playing(demo_cluster: Cluster, alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Inception")
    beat = {"ratingKey": rk, "key": f"/library/metadata/{rk}", "duration": 8_880_000}
    with as_user(demo_cluster, "alice", "alpha") as alice, owner(alpha) as adm:
        alice.headers["X-Plex-Product"] = "Plex for Windows"
        assert xml(adm.get("/status/sessions")).get("size") == "0"
        alice.get("/:/timeline", params={**beat, "state": "playing", "time": 1000})
        assert alpha.state("alice", rk)["view_offset"] == 0  # under a minute: no resume point
        alice.get("/:/timeline", params={**beat, "state": "paused", "time": 61_000})
        root = xml(adm.get("/status/sessions"))
        assert root.get("size") == "1"
        v = root[0]
        assert v.tag == "Video" and v.get("ratingKey") == rk and v.get("viewOffset") == "61000"
        assert v.find("User").get("title") == "alice"
        assert v.find("User").get("id") == "2002"
        player = v.find("Player")
        assert player.get("state") == "paused" and player.get("product") == "Plex for Windows"
        assert player.get("machineIdentifier") == CID["X-Plex-Client-Identifier"]
        assert alpha.sessions()[0]["username"] == "alice"
        assert alice.get("/status/sessions").status_code == 401
        alice.get("/:/timeline", params={**beat, "state": "stopped", "time": 62_000})
        assert xml(adm.get("/status/sessions")).get("size") == "0"
        assert alpha.state("alice", rk)["view_offset"] == 62_000


def test_sessions_expire_and_die_on_restart(demo_cluster: Cluster, alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Inception")
    beat = {"ratingKey": rk, "duration": 8_880_000, "state": "playing", "time": 1000}
    with owner(alpha) as c:
        c.get("/:/timeline", params=beat)
        assert len(alpha.sessions()) == 1
        alpha.restart()
        assert alpha.sessions() == []
        c.get("/:/timeline", params=beat)
        alpha.session_timeout = 0
        assert xml(c.get("/status/sessions")).get("size") == "0"


def test_progress_401_for_shared_user_only(demo_cluster: Cluster, alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    params = {
        "key": rk,
        "identifier": "com.plexapp.plugins.library",
        "time": 90_000,
        "state": "stopped",
    }
    with as_user(demo_cluster, "bob", "alpha") as bob:
        assert bob.get("/:/progress", params=params).status_code == 401
        assert bob.get("/library/sections").status_code == 200
    with as_user(demo_cluster, "kid", "alpha") as kid:
        assert kid.get("/:/progress", params=params).status_code == 200
    with owner(alpha) as c:
        r = c.put("/:/progress", params=params)
        assert r.status_code == 200
    assert alpha.state("kid", rk)["view_offset"] == 90_000
    assert alpha.state("admin", rk)["view_offset"] == 90_000
    assert alpha.state("bob", rk)["view_offset"] == 0


def test_accounts_owner_only(demo_cluster: Cluster, alpha: FakeServer) -> None:
    with owner(alpha) as c:
        accounts = xml(c.get("/accounts"))
        assert {a.get("name"): a.get("id") for a in accounts} == {
            "admin": "1",
            "alice": "2002",
            "bob": "3003",
            "kid": "4004",
        }
    with as_user(demo_cluster, "alice", "alpha") as alice:
        assert alice.get("/accounts").status_code == 401
