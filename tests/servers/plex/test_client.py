"""PlexServerClient against the emulated demo cluster: reads, paging, writes, errors."""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter

import httpx
import pytest

from manager.event import REPLAY_HEADER
from manager.servers.errors import BadRequest, NotFound, ServerFault, Unauthorized, Unreachable
from manager.servers.plex.client import PlexServerClient
from manager.servers.plex.models import TYPE_EPISODE, TYPE_MOVIE
from tests.fakeplex import Cluster
from tests.servers.helpers import CLIENT_ID, server_clients

pytestmark = pytest.mark.anyio


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


async def test_identity_and_differently_named_sections(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        for name, client in server_clients(cluster, http).items():
            srv = cluster.servers[name]
            anonymous = await client.identity()
            assert anonymous.id == srv.machine_identifier
            full = await client.identity(srv.owner_token)
            assert full.id == srv.machine_identifier
            assert full.name == srv.friendly_name
            assert full.version
        clients = server_clients(cluster, http)
        alpha = await clients["alpha"].sections(cluster.servers["alpha"].owner_token)
        gamma = await clients["gamma"].sections(cluster.servers["gamma"].owner_token)
    assert [(s.kind, s.title) for s in alpha] == [("movie", "Movies"), ("show", "TV Shows")]
    assert [(s.kind, s.title) for s in gamma] == [("movie", "Films"), ("show", "Series")]
    assert all(s.id for s in alpha + gamma)


async def test_requests_carry_replay_marker_and_token_only_as_header(cluster: Cluster) -> None:
    srv = cluster.servers["beta"]
    async with httpx.AsyncClient() as http:
        client = server_clients(cluster, http)["beta"]
        await client.sections(srv.owner_token)
        assert client.request_count == 1
    rec = srv.requests[-1]
    assert rec.path == "/library/sections"
    assert rec.token == srv.owner_token
    assert "X-Plex-Token" not in rec.query
    headers = {k.lower(): v for k, v in rec.headers.items()}
    assert headers[REPLAY_HEADER.lower()] == "1"
    assert headers["x-plex-product"] == "Plex Cluster"
    assert rec.client_id == CLIENT_ID


@pytest.mark.parametrize("prefer_json", [True, False])
async def test_paging_across_pages_matches_one_big_page(
    cluster: Cluster, prefer_json: bool
) -> None:
    srv = cluster.servers["alpha"]
    token = srv.owner_token
    async with httpx.AsyncClient() as http:
        client = PlexServerClient(
            srv.url, http, CLIENT_ID, name="alpha", max_concurrency=2, prefer_json=prefer_json
        )
        whole = await client.all_items(token, "2", TYPE_EPISODE, page_size=1000)
        count = await client.count_items(token, "2", TYPE_EPISODE)
        srv.clear_requests()
        pages = [page async for page in client.iter_items(token, "2", TYPE_EPISODE, page_size=5)]
    assert len(whole) == count == 24  # Office 6+4, Breaking Bad 7+3, Dark 4
    assert [len(p) for p in pages] == [5, 5, 5, 5, 4]
    assert [i.id for p in pages for i in p] == [i.id for i in whole]
    listing = [r for r in srv.requests if r.path == "/library/sections/2/all"]
    assert len(listing) == 5  # one request per page, none per item
    starts = sorted(int(_header(r.headers, "X-Plex-Container-Start")) for r in listing)
    assert starts == [0, 5, 10, 15, 20]
    assert all(r.query.get("includeGuids") == "1" for r in listing)
    first = whole[0]
    assert first.kind == "episode" and first.library == "TV Shows"
    assert first.guid and first.guid.startswith("plex://episode/")
    assert any(g.startswith("tvdb://") for g in first.external_ids)
    assert first.show_ids and first.show_id and first.season_number is not None


async def test_xml_and_json_reads_agree(cluster: Cluster) -> None:
    srv = cluster.servers["gamma"]
    async with httpx.AsyncClient() as http:
        as_json = PlexServerClient(srv.url, http, CLIENT_ID, prefer_json=True)
        as_xml = PlexServerClient(srv.url, http, CLIENT_ID, prefer_json=False)
        for type_code, section in ((TYPE_MOVIE, "5"), (TYPE_EPISODE, "6")):
            a = await as_json.all_items(srv.owner_token, section, type_code)
            b = await as_xml.all_items(srv.owner_token, section, type_code)
            assert a == b and a
        kinds = {_header(r.headers, "Accept") for r in srv.requests}
    assert {"application/json", "application/xml"} <= kinds


async def test_metadata_children_and_leaves(cluster: Cluster) -> None:
    srv = cluster.servers["alpha"]
    token = srv.owner_token
    show = srv.find_key(title="The Office (US)")
    matrix = srv.find_key(title="The Matrix")
    async with httpx.AsyncClient() as http:
        client = server_clients(cluster, http)["alpha"]
        both = await client.metadata(token, [matrix, show, "99999"])
        assert {i.id for i in both} == {matrix, show}
        assert (await client.item(token, matrix)).external_ids  # metadata carries <Guid>s
        seasons = await client.children(token, show)
        assert [s.season_number for s in seasons] == [1, 2]
        assert all(s.kind == "season" and s.show_id == show for s in seasons)
        leaves = await client.all_leaves(token, show)
        assert len(leaves) == 10 and {e.show_id for e in leaves} == {show}
        with pytest.raises(NotFound):
            await client.metadata(token, ["99999"])


async def test_writes_are_visible_to_that_user_only(cluster: Cluster) -> None:
    srv = cluster.servers["beta"]
    alice = cluster.token_for("alice", "beta")
    bob = cluster.token_for("bob", "beta")
    rk = srv.find_key(title="Arrival")
    async with httpx.AsyncClient() as http:
        client = server_clients(cluster, http)["beta"]
        item = await client.item(alice, rk)
        assert item.play_count == 0 and item.duration_ms
        await client.scrobble(alice, rk)
        assert (await client.item(alice, rk)).play_count == 1
        assert srv.state("alice", rk)["view_count"] == 1
        assert (await client.item(bob, rk)).play_count == 0

        await client.unscrobble(alice, rk)
        assert (await client.item(alice, rk)).play_count == 0

        await client.set_resume(alice, rk, 1_200_000, item.duration_ms)
        again = await client.item(alice, rk)
        assert again.resume_ms == 1_200_000 and again.play_count == 0
        assert (await client.item(bob, rk)).resume_ms == 0
        # No session is left behind: the write is a finished (stopped) report.
        assert not [s for s in srv.sessions() if s["rating_key"] == rk]
        # A source position a little past this copy's end: clamped, which marks it played.
        await client.set_resume(alice, rk, item.duration_ms + 5_000, item.duration_ms)
        assert srv.state("alice", rk)["view_count"] == 1
    timeline = [r for r in srv.requests if r.path == "/:/timeline"][-2]
    assert timeline.query["state"] == "stopped"
    assert timeline.query["duration"] == str(item.duration_ms)
    assert timeline.client_id == CLIENT_ID


async def test_managed_user_writes_and_show_level_scrobble(cluster: Cluster) -> None:
    srv = cluster.servers["gamma"]
    kid = cluster.token_for("kid", "gamma")
    show = srv.find_key(title="Dark")
    async with httpx.AsyncClient() as http:
        client = server_clients(cluster, http)["gamma"]
        await client.scrobble(kid, show)
        read = await client.item(kid, show)
        assert read.played  # every one of its episodes (leafCount == viewedLeafCount)
        assert not (await client.item(srv.owner_token, show)).played
        episodes = await client.all_leaves(kid, show)
        assert all(e.play_count == 1 for e in episodes)


async def test_sessions_show_who_plays_what(cluster: Cluster) -> None:
    srv = cluster.servers["alpha"]
    rk = srv.find_key(title="Heat")
    async with httpx.AsyncClient() as http:
        # alice's player reports playback, as a client does.
        await http.get(
            f"{srv.url}/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "playing",
                "time": "60000",
                "duration": "10200000",
            },
            headers={
                "X-Plex-Token": cluster.token_for("alice", "alpha"),
                "X-Plex-Client-Identifier": "alices-tv",
            },
        )
        client = server_clients(cluster, http)["alpha"]
        sessions = await client.sessions(srv.owner_token)
    assert [(s.item_id, s.username, s.state, s.client_id) for s in sessions] == [
        (rk, "alice", "playing", "alices-tv")
    ]
    assert sessions[0].user_id == "2002"


async def test_errors_are_classified_and_redacted(cluster: Cluster) -> None:
    srv = cluster.servers["alpha"]
    token = srv.owner_token
    async with httpx.AsyncClient() as http:
        client = PlexServerClient(srv.url, http, CLIENT_ID, name="alpha", timeout=5.0)
        bad = "not-a-real-token-0123456789"
        with pytest.raises(Unauthorized) as unauthorized:
            await client.sections(bad)
        assert unauthorized.value.status == 401 and bad not in str(unauthorized.value)

        with pytest.raises(BadRequest) as bad_request:  # a show has no resume point of its own
            await client.set_resume(token, srv.find_key(title="Dark", type="show"), 1000, 5000)
        assert bad_request.value.status == 400
        with pytest.raises(ValueError, match="duration"):
            await client.set_resume(token, srv.find_key(title="Heat"), 1000, 0)

        srv.fail_next(1, 500)
        with pytest.raises(ServerFault) as server_error:
            await client.sections(token)
        assert server_error.value.status == 500 and "alpha" in str(server_error.value)
        assert await client.sections(token)  # only the next request failed

        srv.fail_next(1, 503)
        with pytest.raises(ServerFault):
            await client.scrobble(token, srv.find_key(title="Heat"))

        srv.go_down()
        try:
            with pytest.raises(Unreachable) as unreachable:
                await client.identity()
            assert unreachable.value.status is None
        finally:
            srv.come_up()
        assert (await client.identity()).id == srv.machine_identifier


async def test_per_user_pass_reads_only_what_the_user_has_state_for(cluster: Cluster) -> None:
    srv = cluster.servers["alpha"]
    alice = cluster.token_for("alice", "alpha")
    heat, matrix, arrival = (srv.find_key(title=t) for t in ("Heat", "The Matrix", "Arrival"))
    async with httpx.AsyncClient() as http:
        client = server_clients(cluster, http)["alpha"]
        await client.scrobble(alice, heat)
        await client.scrobble(alice, matrix)
        await client.set_resume(alice, arrival, 600_000, 6_960_000)

        async def read(**kwargs: object) -> list:
            return [
                i
                async for page in client.iter_items(alice, "1", TYPE_MOVIE, 2, **kwargs)  # type: ignore[arg-type]
                for i in page
            ]

        watched = await read(include_guids=False, extra_params={"unwatched": "0"})
        in_progress = await read(include_guids=False, extra_params={"inProgress": "1"})
        everything = await read()
        states = await read(state_only=True)
    assert sorted(i.id for i in watched) == sorted([heat, matrix])
    assert all(i.play_count == 1 and i.external_ids == () for i in watched)
    assert [(i.id, i.resume_ms) for i in in_progress] == [(arrival, 600_000)]
    assert len(everything) == 7 and all(i.external_ids for i in everything)
    # The state alone: the same ids, kinds and user state, without the ids of other
    # databases (no <Guid>s asked for) nor the titles.
    state = attrgetter("id", "kind", "played", "play_count", "resume_ms", "last_played_at")
    assert [state(i) for i in states] == [state(i) for i in everything]
    assert all(i.external_ids == () and i.guid is None and i.title == "" for i in states)
