"""Test hooks: recording, down/up, injected failures, delay, CLI, fixtures, big libraries."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from plexapi.server import PlexServer

from tests.fakeplex import Cluster, FixtureError, start_cluster
from tests.fakeplex.generate import big_fixture

ROOT = Path(__file__).resolve().parents[2]


def test_requests_recorded_with_time_and_status(demo_cluster: Cluster) -> None:
    beta = demo_cluster.servers["beta"]
    beta.clear_requests()
    plex = PlexServer(beta.url, demo_cluster.token_for("bob", "beta"))
    movie = plex.library.section("Movies").get("Alien")
    movie.markPlayed()
    reqs = beta.requests
    scrobble = reqs[-1]
    assert scrobble.method == "GET" and scrobble.path == "/:/scrobble"
    lib = "com.plexapp.plugins.library"
    assert scrobble.query == {"key": str(movie.ratingKey), "identifier": lib}
    assert scrobble.token == demo_cluster.token_for("bob", "beta")
    assert scrobble.client_id  # plexapi sends its identifier as a header
    assert scrobble.status == 200
    assert [r.time for r in reqs] == sorted(r.time for r in reqs)
    assert all(r.status == 200 for r in reqs)
    beta.clear_requests()
    assert beta.requests == []


def test_go_down_refuses_connections_and_comes_back(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    url = alpha.url
    with httpx.Client(base_url=url) as c:  # keep-alive connection opened before going down
        assert c.get("/identity").status_code == 200
        alpha.go_down()
        with pytest.raises(httpx.TransportError):
            c.get("/identity")
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/identity")
        # the others are unaffected
        assert httpx.get(demo_cluster.servers["beta"].url + "/identity").status_code == 200
        alpha.come_up()
        assert alpha.url == url
        assert c.get("/identity").status_code == 200
    assert PlexServer(url, alpha.owner_token).friendlyName == "Alpha"


def test_fail_next_counts_and_until_cleared(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    with httpx.Client(base_url=alpha.url) as c:
        alpha.fail_next(2)
        assert [c.get("/identity").status_code for _ in range(3)] == [500, 500, 200]
        alpha.fail_next(None, status=503)
        assert {c.get("/identity").status_code for _ in range(4)} == {503}
        alpha.fail_next(0)
        assert c.get("/identity").status_code == 200
    assert [r.status for r in alpha.requests][-8:] == [500, 500, 200, 503, 503, 503, 503, 200]


def test_failed_write_changes_nothing(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    rk = alpha.find_key(title="Heat")
    alpha.fail_next(1)
    r = httpx.get(
        alpha.url + "/:/scrobble",
        params={"key": rk, "identifier": "com.plexapp.plugins.library"},
        headers={"X-Plex-Token": alpha.owner_token},
    )
    assert r.status_code == 500
    assert alpha.state("admin", rk)["view_count"] == 0


def test_set_delay_makes_a_short_timeout_fire(demo_cluster: Cluster) -> None:
    gamma = demo_cluster.servers["gamma"]
    gamma.set_delay(3.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(gamma.url + "/identity", timeout=0.2)
    gamma.set_delay(0)
    assert httpx.get(gamma.url + "/identity", timeout=5).status_code == 200


def test_refuse_when_partitions_some_clients_only(demo_cluster: Cluster) -> None:
    beta = demo_cluster.servers["beta"]
    beta.refuse_when(lambda r: r.param("X-Plex-Cluster-Replay") == "1")
    with pytest.raises(httpx.TransportError):
        httpx.get(beta.url + "/identity", headers={"X-Plex-Cluster-Replay": "1"})
    assert httpx.get(beta.url + "/identity").status_code == 200  # other clients get through
    assert [r.status for r in beta.requests][-2:] == [None, 200]  # recorded, never answered
    beta.refuse_when(None)
    r = httpx.get(beta.url + "/identity", headers={"X-Plex-Cluster-Replay": "1"})
    assert r.status_code == 200


def test_plextv_down(demo_cluster: Cluster) -> None:
    demo_cluster.plextv.go_down()
    with pytest.raises(httpx.ConnectError):
        httpx.get(demo_cluster.plextv_url + "/api/v2/user")
    demo_cluster.plextv.come_up()
    r = httpx.get(
        demo_cluster.plextv_url + "/api/v2/user",
        headers={
            "X-Plex-Token": demo_cluster.account_token("admin"),
            "X-Plex-Client-Identifier": "x",
        },
    )
    assert r.status_code == 200


def test_cli_prints_one_json_line_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeplex", "--fixture", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert [s["name"] for s in info["servers"]] == ["alpha", "beta", "gamma"]
        alpha = info["servers"][0]
        assert set(alpha["tokens"]) == {"admin", "alice", "bob", "kid"}
        assert alpha["tokens"]["admin"] == alpha["owner_token"]
        r = httpx.get(
            alpha["url"] + "/library/sections", headers={"X-Plex-Token": alpha["tokens"]["alice"]}
        )
        assert r.status_code == 200
        r = httpx.get(
            info["plextv_url"] + "/api/v2/user",
            headers={
                "X-Plex-Token": info["users"]["bob"]["account_token"],
                "X-Plex-Client-Identifier": "cli-test",
                "Accept": "application/json",
            },
        )
        assert r.json()["username"] == "bob"
        assert info["servers"][2]["friendlyName"] == "Gamma"
        assert "bob" not in info["servers"][2]["tokens"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_fixture_errors() -> None:
    with pytest.raises(FixtureError):
        start_cluster("no-such-fixture")
    bad = {
        "accounts": {"o": {}},
        "movies": {},
        "servers": {
            "s": {
                "owner": "o",
                "sections": [{"id": 1, "title": "M", "type": "movie", "items": ["ghost"]}],
            }
        },
    }
    with pytest.raises(FixtureError):
        start_cluster(bad)


def test_yaml_path_and_initial_state(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "accounts: {o: {}, f: {}}\n"
        "movies: {a: {title: A, duration: 1000000}}\n"
        "shows: {s: {title: S, seasons: {1: 2}}}\n"
        "servers:\n"
        "  one:\n"
        "    owner: o\n"
        "    users: [f]\n"
        "    sections:\n"
        "      - {id: 1, title: Movies, type: movie, items: [a]}\n"
        "      - {id: 2, title: Shows, type: show, items: [s]}\n"
        "    state:\n"
        "      f: {a: {view_offset: 5000, last_viewed_at: 1700000000}, s: {view_count: 1}}\n"
    )
    with start_cluster(path) as cl:
        one = cl.servers["one"]
        a = one.find_key(title="A")
        assert one.state("f", a) == {
            "view_count": 0,
            "view_offset": 5000,
            "last_viewed_at": 1700000000,
        }
        show = one.state("f", one.find_key(title="S"))
        assert show["viewed_leaf_count"] == show["leaf_count"] == 2
        assert one.state("o", a)["view_offset"] == 0


def test_big_fixture_pages_and_diverges() -> None:
    spec = big_fixture(
        servers=2, movies=3000, shows=20, seasons=2, episodes=5, users=2, diverge=0.1, seed=7
    )
    with start_cluster(spec) as cl:
        s1, s2 = cl.servers["s1"], cl.servers["s2"]
        totals = []
        for srv in (s1, s2):
            r = httpx.get(
                srv.url + "/library/sections/1/all",
                params={
                    "X-Plex-Container-Start": 0,
                    "X-Plex-Container-Size": 1000,
                    "includeGuids": 1,
                },
                headers={"X-Plex-Token": srv.owner_token, "Accept": "application/json"},
            )
            mc = r.json()["MediaContainer"]
            assert mc["size"] == 1000 and len(mc["Metadata"]) == 1000
            assert all(m["Guid"] for m in mc["Metadata"])
            totals.append(mc["totalSize"])
        assert 2400 < totals[0] < 3000 and 2400 < totals[1] < 3000 and totals[0] != totals[1]
        eps = httpx.get(
            s1.url + "/library/sections/2/all",
            params={"type": 4},
            headers={
                "X-Plex-Token": s1.owner_token,
                "X-Plex-Container-Size": "0",
                "X-Plex-Container-Start": "0",
            },
        )
        assert int(eps.headers["X-Plex-Container-Total-Size"]) % 10 == 0
        both = next(
            k for k in cl.spec.movies if k in s1.library.by_catalog and k in s2.library.by_catalog
        )
        guid = "imdb://" + str(cl.spec.movies[both].imdb)
        assert s1.find_key(None, guid=guid) != s2.find_key(None, guid=guid)
        only = [
            k
            for k in cl.spec.movies
            if (k in s1.library.by_catalog) != (k in s2.library.by_catalog)
        ]
        assert only
        watched = sum(
            1
            for it in s1.library.items.values()
            if it.is_leaf and s1.state("user1", it.rating_key)["view_count"]
        )
        assert watched > 100


def test_expired_and_revoked_tokens(demo_cluster: Cluster) -> None:
    beta = demo_cluster.servers["beta"]
    alice = demo_cluster.token_for("alice", "beta")
    bob = demo_cluster.token_for("bob", "beta")
    beta.expire_token(alice)
    beta.revoke_token(bob)
    with httpx.Client(base_url=beta.url) as c:
        assert c.get("/library/sections", headers={"X-Plex-Token": alice}).status_code == 498
        assert c.get("/library/sections", headers={"X-Plex-Token": bob}).status_code == 401
        assert (
            c.get("/library/sections", headers={"X-Plex-Token": beta.owner_token}).status_code
            == 200
        )
        assert c.get("/identity").status_code == 200


def test_add_and_remove_items(demo_cluster: Cluster) -> None:
    from tests.fakeplex import MovieSpec, ShowSpec

    gamma = demo_cluster.servers["gamma"]
    new = MovieSpec(
        key="dune",
        title="Dune",
        year=2021,
        duration=9_360_000,
        plex="a" * 24,
        imdb="tt1160419",
        tmdb=438631,
    )
    rk = gamma.add_item(5, new)
    plex = PlexServer(gamma.url, gamma.owner_token)
    dune = plex.fetchItem(int(rk))
    assert dune.title == "Dune" and dune.guid == "com.plexapp.agents.imdb://tt1160419?lang=en"
    assert "Dune" in {m.title for m in plex.library.section("Films").all()}
    gamma.remove(rk)
    assert "Dune" not in {m.title for m in plex.library.section("Films").all()}
    office = gamma.find_key(title="The Office (US)", type="show")
    season2 = gamma.find_key(catalog="office/s02")
    gamma.remove_item(season2)
    show = plex.fetchItem(int(office))
    assert show.leafCount == 6 and len(show.seasons()) == 1
    spec = ShowSpec(
        key="x",
        title="X",
        year=2020,
        plex="b" * 24,
        season_plex={1: "c" * 24},
        imdb=None,
        tmdb=None,
        tvdb=1,
        episodes=[],
    )
    assert gamma.add_item(6, spec)


def test_cors_preflight_needs_no_token(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    r = httpx.request(
        "OPTIONS",
        alpha.url + "/:/timeline",
        params={"ratingKey": "101", "state": "stopped", "time": 70000},
        headers={"Origin": "https://app.plex.tv", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.plex.tv"
    assert alpha.state("admin", "101")["view_offset"] == 0
