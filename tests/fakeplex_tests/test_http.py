"""Plain HTTP against the emulated PMS: what python-plexapi cannot reach."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.fakeplex import Cluster, FakeServer

CID = {"X-Plex-Client-Identifier": "test-client-1"}


def xml(resp: httpx.Response) -> ET.Element:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/xml")
    return ET.fromstring(resp.content)


@pytest.fixture
def alpha(demo_cluster: Cluster) -> FakeServer:
    return demo_cluster.servers["alpha"]


def owner(srv: FakeServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"X-Plex-Token": srv.owner_token, **CID})


def as_user(cluster: Cluster, user: str, server: str) -> httpx.Client:
    srv = cluster.servers[server]
    return httpx.Client(
        base_url=srv.url, headers={"X-Plex-Token": cluster.token_for(user, server), **CID}
    )


def test_identity_needs_no_token_everything_else_does(alpha: FakeServer) -> None:
    root = xml(httpx.get(alpha.url + "/identity"))
    assert root.tag == "MediaContainer"
    assert root.get("machineIdentifier") == alpha.machine_identifier
    assert root.get("claimed") == "1" and root.get("version")
    for path in ("/", "/library/sections", "/library/sections/1/all", "/:/scrobble"):
        r = httpx.get(alpha.url + path)
        assert r.status_code == 401, path
        r = httpx.get(alpha.url + path, headers={"X-Plex-Token": "wrong-token-000000000"})
        assert r.status_code == 401, path


def test_token_as_header_or_query_recorded_either_way(alpha: FakeServer) -> None:
    alpha.clear_requests()
    r1 = httpx.get(alpha.url + "/library/sections", headers={"X-Plex-Token": alpha.owner_token})
    r2 = httpx.get(
        alpha.url + "/library/sections",
        params={"X-Plex-Token": alpha.owner_token, "X-Plex-Client-Identifier": "web-1"},
    )
    assert r1.status_code == r2.status_code == 200
    assert r1.content == r2.content
    reqs = alpha.requests
    assert [r.token for r in reqs] == [alpha.owner_token, alpha.owner_token]
    assert reqs[0].client_id is None and reqs[1].client_id == "web-1"
    assert reqs[1].query["X-Plex-Token"] == alpha.owner_token
    assert reqs[0].param("X-Plex-Token") == alpha.owner_token
    assert all(r.status == 200 and r.method == "GET" for r in reqs)


def test_json_when_asked(alpha: FakeServer) -> None:
    with owner(alpha) as c:
        c.headers["Accept"] = "application/json"
        secs = c.get("/library/sections").json()["MediaContainer"]
        assert [d["title"] for d in secs["Directory"]] == ["Movies", "TV Shows"]
        body = c.get("/library/sections/1/all", params={"includeGuids": 1}).json()
        mc = body["MediaContainer"]
        assert mc["size"] == len(mc["Metadata"]) == 7
        matrix = next(m for m in mc["Metadata"] if m["title"] == "The Matrix")
        assert matrix["type"] == "movie" and isinstance(matrix["ratingKey"], str)
        assert {"id": "imdb://tt0133093"} in matrix["Guid"]
        assert "viewCount" not in matrix and "viewOffset" not in matrix
        rk = matrix["ratingKey"]
        c.get("/:/scrobble", params={"key": rk, "identifier": "com.plexapp.plugins.library"})
        meta = c.get(f"/library/metadata/{rk}").json()["MediaContainer"]["Metadata"][0]
        assert meta["viewCount"] == 1 and isinstance(meta["lastViewedAt"], int)
        root = c.get("/").json()["MediaContainer"]
        assert root["machineIdentifier"] == alpha.machine_identifier


def test_xml_shape_of_items(alpha: FakeServer) -> None:
    with owner(alpha) as c:
        shows = xml(c.get("/library/sections/2/all", params={"includeGuids": 1}))
        assert {e.tag for e in shows} == {"Directory"}
        office = next(e for e in shows if e.get("title") == "The Office (US)")
        assert office.get("type") == "show" and office.get("leafCount") == "10"
        assert office.get("viewedLeafCount") == "0" and office.get("viewCount") is None
        assert [g.get("id") for g in office.findall("Guid")] == [
            "imdb://tt0386676",
            "tmdb://2316",
            "tvdb://73244",
        ]
        eps = xml(c.get("/library/sections/2/all", params={"type": 4}))
        assert {e.tag for e in eps} == {"Video"}
        assert len(eps) == int(eps.get("size")) == 10 + 10 + 4
        assert not eps.findall("Video/Guid")  # only with includeGuids=1
        ep = eps[0]
        for attr in (
            "ratingKey",
            "key",
            "guid",
            "parentRatingKey",
            "grandparentRatingKey",
            "grandparentGuid",
            "grandparentTitle",
            "index",
            "parentIndex",
            "duration",
            "addedAt",
        ):
            assert ep.get(attr), attr
        seasons = xml(c.get("/library/sections/2/all", params={"type": 3}))
        assert {e.get("type") for e in seasons} == {"season"}
        assert xml(c.get("/library/sections/2/all", params={"type": 1})).get("size") == "0"


def test_view_offset_only_while_in_progress(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Arrival")
    with owner(alpha) as c:

        def item() -> ET.Element:
            return xml(c.get(f"/library/metadata/{rk}"))[0]

        assert item().get("viewOffset") is None and item().get("viewCount") is None
        c.get(
            "/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "stopped",
                "time": 61_000,
                "duration": 6960000,
            },
        )
        assert item().get("viewOffset") == "61000" and item().get("viewCount") is None
        c.get("/:/scrobble", params={"key": rk, "identifier": "com.plexapp.plugins.library"})
        assert item().get("viewOffset") is None and item().get("viewCount") == "1"


def test_paging_headers_query_and_size_zero(alpha: FakeServer) -> None:
    with owner(alpha) as c:
        r = c.get(
            "/library/sections/1/all",
            headers={"X-Plex-Container-Start": "2", "X-Plex-Container-Size": "3"},
        )
        root = xml(r)
        assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("3", "7", "2")
        assert r.headers["X-Plex-Container-Total-Size"] == "7"
        r2 = c.get(
            "/library/sections/1/all",
            params={"X-Plex-Container-Start": 2, "X-Plex-Container-Size": 3},
        )
        assert r2.content == r.content
        zero = c.get("/library/sections/1/all", params={"X-Plex-Container-Size": 0})
        z = xml(zero)
        assert z.get("size") == "0" and z.get("totalSize") == "7" and len(z) == 0
        assert zero.headers["X-Plex-Container-Total-Size"] == "7"
        everything = xml(c.get("/library/sections/1/all"))
        assert everything.get("size") == "7" and everything.get("totalSize") is None
        past = xml(c.get("/library/sections/1/all", params={"X-Plex-Container-Start": 50}))
        assert past.get("size") == "0" and past.get("totalSize") == "7"
        assert (
            c.get("/library/sections/1/all", params={"X-Plex-Container-Start": -1}).status_code
            == 400
        )
        assert (
            c.get("/library/sections/1/all", params={"X-Plex-Container-Size": "ten"}).status_code
            == 400
        )


def test_status_codes(alpha: FakeServer) -> None:
    lib = "com.plexapp.plugins.library"
    with owner(alpha) as c:
        assert c.get("/library/metadata/424242").status_code == 404
        assert c.get("/library/sections/99/all").status_code == 404
        assert c.get("/no/such/endpoint").status_code == 404
        assert c.get("/library/sections/1/all", params={"type": "x"}).status_code == 400
        assert c.get("/:/scrobble", params={"key": "424242", "identifier": lib}).status_code == 404
        assert c.get("/:/scrobble", params={"identifier": lib}).status_code == 400
        rk = alpha.find_key(title="Heat")
        assert c.get("/:/scrobble", params={"key": rk}).status_code == 400
        assert c.get("/:/scrobble", params={"key": rk, "identifier": lib}).status_code == 200
        assert c.get("/:/unscrobble", params={"key": "abc", "identifier": lib}).status_code == 400
        bad = {"ratingKey": rk, "state": "playing", "time": 11_000_000, "duration": 10_200_000}
        assert c.get("/:/timeline", params=bad).status_code == 400
        assert (
            c.get("/:/timeline", params={**bad, "state": "dancing", "time": 1}).status_code == 400
        )
        assert (
            c.get("/:/timeline", params={"state": "playing", "time": 1, "duration": 5}).status_code
            == 400
        )
        assert (
            c.get("/:/timeline", params={**bad, "ratingKey": "424242", "time": 1}).status_code
            == 404
        )
        assert c.get("/:/progress", params={"key": rk}).status_code == 400
        assert c.get("/:/progress", params={"key": "424242", "time": 5}).status_code == 404
    r = httpx.get(
        alpha.url + "/library/metadata/424242", headers={"X-Plex-Token": alpha.owner_token}
    )
    assert r.status_code == 404 and "404 Not Found" in r.text


def test_scrobble_and_unscrobble_with_put(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    params = {"key": rk, "identifier": "com.plexapp.plugins.library"}
    with owner(alpha) as c:
        r = c.put("/:/scrobble", params=params)
        assert r.status_code == 200 and r.content == b""
        assert alpha.state("admin", rk)["view_count"] == 1
        assert c.put("/:/unscrobble", params=params).status_code == 200
        assert alpha.state("admin", rk) == {
            "view_count": 0,
            "view_offset": 0,
            "last_viewed_at": None,
        }


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize("path", ["/:/timeline", "/:/timeline/"])
def test_timeline_methods_and_trailing_slash(alpha: FakeServer, method: str, path: str) -> None:
    rk = alpha.find_key(title="Heat")
    params = {
        "ratingKey": rk,
        "key": f"/library/metadata/{rk}",
        "state": "stopped",
        "time": 777_000,
        "duration": 10_200_000,
        "identifier": "com.plexapp.plugins.library",
    }
    with owner(alpha) as c:
        r = c.request(method, path, params=params)
    root = xml(r)
    assert root.get("size") == "0" and len(root) == 0
    assert root.get("viewOffset") == "777000"
    assert alpha.state("admin", rk)["view_offset"] == 777_000
    assert alpha.requests[-1].method == method and alpha.requests[-1].path == path


def test_timeline_needs_duration_and_client_id(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    base = {"ratingKey": rk, "key": f"/library/metadata/{rk}", "state": "stopped", "time": 65_000}
    tok = {"X-Plex-Token": alpha.owner_token}
    r = httpx.get(alpha.url + "/:/timeline", params={**base, "duration": 10_200_000}, headers=tok)
    assert r.status_code == 200
    r = httpx.get(alpha.url + "/:/timeline", params=base, headers={**tok, **CID})
    assert r.status_code == 200
    assert alpha.state("admin", rk)["view_offset"] == 0  # both ignored
    r = httpx.get(
        alpha.url + "/:/timeline",
        params={**base, "duration": 10_200_000, "X-Plex-Client-Identifier": "q"},
        headers=tok,
    )
    assert alpha.state("admin", rk)["view_offset"] == 65_000  # client id in the query is enough


def test_offline_timeline_needs_no_duration(alpha: FakeServer) -> None:
    """A sync client's offline=1 report is stored without duration and without a threshold
    check (plex-api.rs against a real PMS: 260 s on an 81 s movie stayed a resume point)."""
    rk = alpha.find_key(title="Heat")
    with owner(alpha) as c:
        r = c.get(
            "/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "playing",
                "time": 10_199_000,
                "offline": 1,
            },
            headers={"Accept": "application/json"},
        )
    mc = r.json()["MediaContainer"]
    assert mc["viewOffset"] == 10_199_000 and mc["viewCount"] == 0
    assert mc["playbackState"] == "progress" and mc["size"] == 0
    assert alpha.state("admin", rk)["view_offset"] == 10_199_000


def test_resume_points_of_a_minute_or_less_are_ignored(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    beat = {"ratingKey": rk, "state": "stopped", "duration": 10_200_000}
    with owner(alpha) as c:
        c.get("/:/timeline", params={**beat, "time": 60_000})
        assert alpha.state("admin", rk) == {
            "view_count": 0,
            "view_offset": 0,
            "last_viewed_at": None,
        }
        c.get("/:/timeline", params={**beat, "time": 60_001})
        assert alpha.state("admin", rk)["view_offset"] == 60_001
        c.get("/:/timeline", params={**beat, "time": 30_000})  # ignored, not cleared
        assert alpha.state("admin", rk)["view_offset"] == 60_001
        alpha.min_resume_offset = 0
        c.get("/:/timeline", params={**beat, "time": 30_000})
        assert alpha.state("admin", rk)["view_offset"] == 30_000


def test_resume_point_on_a_watched_item_keeps_view_count(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    lib = "com.plexapp.plugins.library"
    with owner(alpha) as c:
        c.get("/:/scrobble", params={"key": rk, "identifier": lib})
        r = c.get(
            "/:/timeline",
            params={"ratingKey": rk, "state": "stopped", "time": 120_000, "duration": 10_200_000},
        )
        root = xml(r)
        assert root.get("viewCount") == "1" and root.get("viewOffset") == "120000"
    assert alpha.state("admin", rk)["view_count"] == 1


def test_threshold_crossing_marks_played_once_and_clears_offset(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="The Matrix")
    dur = 8_160_000
    beat = {"ratingKey": rk, "key": f"/library/metadata/{rk}", "duration": dur}
    with owner(alpha) as c:
        c.get("/:/timeline", params={**beat, "state": "playing", "time": 7_000_000})
        assert alpha.state("admin", rk)["view_offset"] == 7_000_000
        assert alpha.state("admin", rk)["view_count"] == 0
        c.get("/:/timeline", params={**beat, "state": "playing", "time": int(dur * 0.9)})
        st = alpha.state("admin", rk)
        assert st["view_count"] == 1 and st["view_offset"] == 0 and st["last_viewed_at"]
        c.get("/:/timeline", params={**beat, "state": "playing", "time": int(dur * 0.95)})
        c.get("/:/timeline", params={**beat, "state": "stopped", "time": int(dur * 0.97)})
        assert alpha.state("admin", rk)["view_count"] == 1  # one play, not three
        # a later separate play counts again
        c.get("/:/timeline", params={**beat, "state": "stopped", "time": dur})
        assert alpha.state("admin", rk)["view_count"] == 2


def test_threshold_is_a_setting(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="The Matrix")
    alpha.played_threshold = 0.5
    with owner(alpha) as c:
        c.get(
            "/:/timeline",
            params={"ratingKey": rk, "state": "stopped", "time": 4_100_000, "duration": 8_160_000},
        )
    assert alpha.state("admin", rk)["view_count"] == 1


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


def test_children_and_all_leaves(alpha: FakeServer) -> None:
    show = alpha.find_key(title="The Office (US)", type="show")
    with owner(alpha) as c:
        seasons = xml(c.get(f"/library/metadata/{show}/children"))
        assert [s.get("index") for s in seasons] == ["1", "2"]
        assert seasons.get("key") == show
        s1 = seasons[0].get("ratingKey")
        eps = xml(c.get(f"/library/metadata/{s1}/children"))
        assert [e.get("index") for e in eps] == ["1", "2", "3", "4", "5", "6"]
        assert eps[0].get("title") == "Pilot"
        leaves = xml(c.get(f"/library/metadata/{show}/allLeaves"))
        assert len(leaves) == 10
        section_leaves = xml(c.get("/library/sections/2/allLeaves"))
        assert len(section_leaves) == 24
        multi = xml(c.get(f"/library/metadata/{show},{s1},424242"))
        assert [e.get("type") for e in multi] == ["show", "season"]


def test_filters_sort_and_meta(alpha: FakeServer) -> None:
    with owner(alpha) as c:
        heat = alpha.find_key(title="Heat")
        c.get("/:/scrobble", params={"key": heat, "identifier": "com.plexapp.plugins.library"})
        unwatched = xml(c.get("/library/sections/1/all", params={"unwatched": 1}))
        assert "Heat" not in {v.get("title") for v in unwatched} and len(unwatched) == 6
        by_title = xml(c.get("/library/sections/1/all", params={"title": "the"}))
        assert {v.get("title") for v in by_title} == {"The Matrix", "The Big Lebowski"}
        newest = xml(c.get("/library/sections/1/all", params={"sort": "addedAt:desc"}))
        added = [int(v.get("addedAt")) for v in newest]
        assert added == sorted(added, reverse=True)
        meta = xml(
            c.get(
                "/library/sections/2/all",
                params={"includeMeta": 1, "type": 4, "X-Plex-Container-Size": 0},
            )
        )
        types = [t.get("type") for t in meta.findall("Meta/Type")]
        assert types == ["show", "season", "episode"]


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


def test_section_share_restrictions() -> None:
    from tests.fakeplex import start_cluster

    fixture = {
        "accounts": {"own": {}, "pal": {}},
        "movies": {"a": {"title": "A"}},
        "shows": {"s": {"title": "S", "seasons": {1: 2}}},
        "servers": {
            "one": {
                "owner": "own",
                "users": {"pal": [2]},
                "sections": [
                    {"id": 1, "title": "Movies", "type": "movie", "items": ["a"]},
                    {"id": 2, "title": "Shows", "type": "show", "items": ["s"]},
                ],
            }
        },
    }
    with start_cluster(fixture) as cl:
        srv = cl.servers["one"]
        with as_user(cl, "pal", "one") as pal:
            secs = xml(pal.get("/library/sections"))
            assert [d.get("title") for d in secs] == ["Shows"]
            assert pal.get("/library/sections/1/all").status_code == 404
            assert pal.get(f"/library/metadata/{srv.find_key(title='A')}").status_code == 404


def test_mixed_agents_and_unmatched_items_in_one_section() -> None:
    from tests.fakeplex import start_cluster

    fixture = {
        "accounts": {"own": {}},
        "movies": {
            "a": {"title": "A", "imdb": "tt0000001", "tmdb": 1},
            "b": {"title": "B", "imdb": "tt0000002", "tmdb": 2},
            "c": {"title": "C"},
        },
        "shows": {"s": {"title": "S", "tvdb": 99, "seasons": {1: 1}}},
        "servers": {
            "one": {
                "owner": "own",
                "sections": [
                    {
                        "id": 1,
                        "title": "Movies",
                        "type": "movie",
                        "items": [
                            "a",
                            {"key": "b", "match": "legacy"},
                            {"key": "c", "match": "none"},
                        ],
                    },
                    {
                        "id": 2,
                        "title": "Shows",
                        "type": "show",
                        "items": [{"key": "s", "match": "none"}],
                    },
                ],
            }
        },
    }
    with start_cluster(fixture) as cl:
        srv = cl.servers["one"]
        with owner(srv) as c:
            movies = xml(c.get("/library/sections/1/all", params={"includeGuids": 1}))
            got = {
                v.get("title"): (v.get("guid"), [g.get("id") for g in v.findall("Guid")])
                for v in movies
            }
            eps = xml(c.get("/library/sections/2/all", params={"type": 4, "includeGuids": 1}))
        assert got["A"][0].startswith("plex://movie/") and got["A"][1] == [
            "imdb://tt0000001",
            "tmdb://1",
        ]
        assert got["B"] == ("com.plexapp.agents.imdb://tt0000002?lang=en", [])
        c_rk = srv.find_key(title="C")
        assert got["C"] == (f"local://{c_rk}", [])
        assert eps[0].get("guid").startswith("local://") and eps[0].findall("Guid") == []
        assert eps[0].get("grandparentGuid").startswith("local://")
