"""Plain HTTP reads of the emulated PMS that python-plexapi cannot make: tokens, JSON and
XML shapes, paging, children, filters, share restrictions, matched and unmatched items."""

from __future__ import annotations

import httpx

from tests.fakeplex import FakeServer

from .http_helpers import as_user, owner, xml


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
