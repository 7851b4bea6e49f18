"""JellyfinMediaServer against the emulated Jellyfin and Emby servers, both dialects."""

from __future__ import annotations

from operator import attrgetter

import httpx
import pytest

from manager.servers.errors import BadRequest, NotFound, Unauthorized, Unreachable
from manager.servers.models import EPISODE, MOVIE, SEASON, SHOW, Credential
from tests.fakejelly import FakeJellyfin
from tests.fakeplex import Cluster
from tests.servers.jellyfin.helpers import (
    CLIENT_ID,
    DIALECT_SERVERS,
    admin,
    api,
    for_user,
    header,
    ours,
    play,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("name", DIALECT_SERVERS)]


async def test_identify_and_libraries(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        ident = await media.identify()
        libs = await media.libraries(admin(mixed, name))
        bobs = await media.libraries(for_user(mixed, name, "bob")) if name == "emby" else None
    assert (ident.id, ident.name, ident.version) == (srv.server_id, srv.friendly_name, srv.version)
    assert media.kind == srv.dialect and media.level_marks is False
    expected = {"jelly": ["Movies", "Shows"], "emby": ["Films", "Series"]}[name]
    assert [(lib.kind, lib.title) for lib in libs] == list(
        zip([MOVIE, SHOW], expected, strict=True)
    )
    if bobs is not None:  # bob sees Emby's movie library only
        assert [lib.title for lib in bobs] == ["Films"]


async def test_requests_carry_the_replay_marker_and_the_dialects_credential(
    mixed: Cluster, name: str
) -> None:
    srv = mixed.jellyfin(name)
    async with httpx.AsyncClient() as http:
        await api(mixed, name, http).libraries(admin(mixed, name))
    rec = srv.requests[-1]
    assert ours(rec.headers)
    assert rec.token == srv.api_key and rec.client_id == CLIENT_ID
    assert not any("key" in k.lower() or "token" in k.lower() for k in rec.query)
    if name == "emby":
        assert header(rec.headers, "X-Emby-Token") == srv.api_key
    else:
        assert f'Token="{srv.api_key}"' in header(rec.headers, "Authorization")


async def test_paging_gives_ids_show_ids_and_state_without_per_item_reads(
    mixed: Cluster, name: str
) -> None:
    srv = mixed.jellyfin(name)
    pilot = srv.item_id("office/s01e01")
    srv.set_state("alice", pilot, played=True, play_count=2, last_played_at=1_700_000_000)
    second = srv.item_id("office/s01e02")
    srv.set_state("alice", second, position_ticks=123_000 * 10_000, last_played_at=1_700_000_100)
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http, max_concurrency=2)
        shows = next(lib for lib in await media.libraries(alice) if lib.kind == SHOW)
        whole = [i async for page in media.items(alice, shows, EPISODE) for i in page]
        srv.clear_requests()
        media = api(mixed, name, http, max_concurrency=2)  # a cold series cache
        pages = [page async for page in media.items(alice, shows, EPISODE, page_size=3)]
    expected = {"jelly": 14, "emby": 10}[name]  # Office 6+4 (+ Dark season 1 on Jellyfin)
    assert len(whole) == expected
    assert [len(p) for p in pages][:-1] == [3] * (len(pages) - 1)
    assert [i.id for p in pages for i in p] == [i.id for i in whole]
    listing = [r for r in srv.requests if r.query.get("ParentId") == shows.id]
    assert len(listing) == len(pages)  # one request per page, none per item
    lookups = [r for r in srv.requests if "Ids" in r.query]
    assert len(lookups) <= len(pages)  # the series' ids: at most once per page
    assert all(ours(r.headers) for r in srv.requests)
    by_id = {i.id: i for i in whole}
    ep = by_id[pilot]
    assert (ep.kind, ep.show_title, ep.season_number, ep.episode_number) == (
        EPISODE,
        "The Office (US)",
        1,
        1,
    )
    assert ep.show_id == srv.item_id("office") and ep.season_id
    assert set(ep.show_ids) == {"imdb://tt0386676", "tmdb://2316", "tvdb://73244"}
    assert ep.external_ids and all("://" in e for e in ep.external_ids)
    assert ep.duration_ms == 1_320_000 and ep.library == shows.title
    assert (ep.played, ep.play_count, ep.last_played_at) == (True, 2, 1_700_000_000)
    assert (by_id[second].played, by_id[second].resume_ms) == (False, 123_000)


async def test_a_state_only_listing_asks_for_no_external_ids(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    pilot = srv.item_id("office/s01e01")
    srv.set_state("alice", pilot, played=True, play_count=2, last_played_at=1_700_000_000)
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        shows = next(lib for lib in await media.libraries(alice) if lib.kind == SHOW)
        whole = [i async for page in media.items(alice, shows, EPISODE) for i in page]
        srv.clear_requests()
        media = api(mixed, name, http)  # a cold series cache
        lean = [
            i async for page in media.items(alice, shows, EPISODE, state_only=True) for i in page
        ]
    state = attrgetter("id", "kind", "played", "play_count", "resume_ms", "last_played_at")
    assert [state(i) for i in lean] == [state(i) for i in whole]
    assert all(i.external_ids == () and i.show_ids == () for i in lean)
    # Neither the items' ProviderIds nor a lookup of their series' ids.
    assert srv.requests and all("Ids" not in r.query for r in srv.requests)
    assert all("ProviderIds" not in r.query.get("Fields", "") for r in srv.requests)


async def test_a_state_only_listing_of_shows_leaves_their_ids_to_a_full_one(
    mixed: Cluster, name: str
) -> None:
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)  # one client: one cache of series ids
        shows = next(lib for lib in await media.libraries(alice) if lib.kind == SHOW)
        lean = [i async for page in media.items(alice, shows, SHOW, state_only=True) for i in page]
        episodes = [i async for page in media.items(alice, shows, EPISODE) for i in page]
    assert lean and all(i.external_ids == () for i in lean)
    # The shows listed without ids are not remembered as shows without ids.
    assert episodes and all(e.show_ids for e in episodes)


async def test_movies_shows_and_seasons_and_the_admin_reads_no_state(
    mixed: Cluster, name: str
) -> None:
    srv = mixed.jellyfin(name)
    srv.set_state("alice", srv.item_id("matrix"), played=True)
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        libs = {lib.kind: lib for lib in await media.libraries(admin(mixed, name))}
        movies = [i async for p in media.items(admin(mixed, name), libs[MOVIE], MOVIE) for i in p]
        shows = [i async for p in media.items(admin(mixed, name), libs[SHOW], SHOW) for i in p]
        seasons = [i async for p in media.items(admin(mixed, name), libs[SHOW], SEASON) for i in p]
    matrix = next(m for m in movies if m.title == "The Matrix")
    assert set(matrix.external_ids) == {"imdb://tt0133093", "tmdb://603"}
    assert matrix.played is False  # the admin key is nobody: no user state
    office = next(s for s in shows if s.title == "The Office (US)")
    assert office.kind == SHOW and "tvdb://73244" in office.external_ids
    first = next(s for s in seasons if s.show_id == office.id and s.season_number == 1)
    assert first.kind == SEASON and "tvdb://73244" in first.show_ids


async def test_item_items_by_id_and_not_found(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    alice = for_user(mixed, name, "alice")
    matrix, heat = srv.item_id("matrix"), srv.item_id("heat")
    missing = "0" * 32 if name == "jelly" else "999999"
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        item = await media.item(alice, matrix)
        found = await media.items_by_id(alice, [matrix, missing, heat, "not-an-id"])
        with pytest.raises(NotFound):
            await media.item(alice, missing)
        with pytest.raises(NotFound):
            await media.item(alice, "not-an-id")
        assert await media.items_by_id(alice, []) == []
    assert item.id == matrix and item.title == "The Matrix" and item.kind == MOVIE
    assert sorted(i.id for i in found) == sorted([matrix, heat])


async def test_leaves_of_a_show_and_a_season(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    office = srv.item_id("office")
    srv.set_state("alice", srv.item_id("office/s02e01"), played=True)
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        episodes = await media.leaves(alice, office)
        season_two = next(i for i in episodes if i.season_number == 2).season_id
        assert season_two
        second = await media.leaves(alice, season_two)
        show = await media.item(alice, office)
    assert len(episodes) == 10 and all(e.kind == EPISODE for e in episodes)
    assert all(e.show_ids for e in episodes)
    assert [e.episode_number for e in second] == [1, 2, 3, 4]
    assert [e.played for e in second] == [True, False, False, False]
    if show.leaves is not None:  # the server counted them
        assert (show.leaves, show.played_leaves) == (10, 1)


async def test_sessions_playing_and_paused(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    matrix, heat = srv.item_id("matrix"), srv.item_id("heat")
    await play(mixed, name, "alice", matrix, "alice-tv", position_ms=60_000)
    await play(mixed, name, "admin", heat, "admin-phone", paused=True)
    async with httpx.AsyncClient() as http:
        sessions = await api(mixed, name, http).sessions(admin(mixed, name))
    by_device = {s.client_id: s for s in sessions}
    assert set(by_device) == {"alice-tv", "admin-phone"}  # idle clients are not sessions
    tv = by_device["alice-tv"]
    assert (tv.item_id, tv.user_id, tv.state) == (matrix, srv.user_id("alice"), "playing")
    assert tv.username == srv.display_names["alice"]
    assert by_device["admin-phone"].state == "paused"


async def test_writes_read_back(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    heat = srv.item_id("heat")
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        await media.mark_played(alice, heat)
        played = await media.item(alice, heat)
        assert mixed.state(name, "alice", "heat")["played"] is True
        await media.mark_unplayed(alice, heat)
        unplayed = await media.item(alice, heat)
        await media.set_resume(alice, heat, 1_200_000, played.duration_ms or 0)
        resumed = await media.item(alice, heat)
        await media.set_resume(alice, heat, 99_999_999, played.duration_ms or 0)
        clamped = await media.item(alice, heat)
        with pytest.raises(BadRequest):  # the admin key alone names nobody to write for
            await media.mark_played(admin(mixed, name), heat)
    assert played.played and played.last_played_at is not None
    assert not unplayed.played and unplayed.resume_ms == 0
    assert (resumed.played, resumed.resume_ms) == (False, 1_200_000)
    assert mixed.state(name, "alice", "heat")["position_ms"] == clamped.resume_ms
    assert clamped.resume_ms == played.duration_ms
    assert mixed.state(name, "admin", "heat")["played"] is False  # only alice's state moved
    writes = [r for r in srv.requests if r.method in ("POST", "DELETE")]
    if name == "emby":
        assert all(r.path.startswith("/Users/") for r in writes)
        assert all(len(r.query.get("DatePlayed", "0" * 14)) == 14 for r in writes)
    else:
        assert {r.path.split("/")[1] for r in writes} == {"UserPlayedItems", "UserItems"}


async def test_since_keeps_only_what_the_user_played_after_it(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    srv.set_state("alice", srv.item_id("matrix"), played=True, last_played_at=1_600_000_000)
    srv.set_state("alice", srv.item_id("heat"), played=True, last_played_at=1_700_000_000)
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        movies = next(lib for lib in await media.libraries(alice) if lib.kind == MOVIE)
        recent = [
            i async for p in media.items(alice, movies, MOVIE, since=1_650_000_000) for i in p
        ]
    assert [i.title for i in recent] == ["Heat"]


async def test_since_reads_back_to_it_only(mixed: Cluster, name: str) -> None:
    """Played and resumable items, newest first, until a page reaches past `since`: not the
    whole library."""
    srv = mixed.jellyfin(name)
    movies_here = [k for k in ("matrix", "inception", "arrival", "heat", "short") if _has(srv, k)]
    for n, key in enumerate(movies_here):  # all played long ago
        srv.set_state("alice", srv.item_id(key), played=True, last_played_at=1_500_000_000 + n)
    newest = movies_here[0]
    srv.set_state("alice", srv.item_id(newest), played=False, position_ticks=30 * 60 * 10**7)
    srv.set_state("alice", srv.item_id(newest), last_played_at=1_700_000_000)
    alice = for_user(mixed, name, "alice")
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        movies = next(lib for lib in await media.libraries(alice) if lib.kind == MOVIE)
        srv.clear_requests()
        recent = [
            i
            async for p in media.items(alice, movies, MOVIE, page_size=1, since=1_650_000_000)
            for i in p
        ]
    assert [(i.title, i.resume_ms) for i in recent] == [
        (srv.item(srv.item_id(newest)).name, 30 * 60_000)
    ]
    listings = [r for r in srv.requests if r.path.split("?")[0].lower().endswith("/items")]
    # One page of played (already past `since`), two of resumable (the item, then past it):
    # the whole library, a movie a page, would be one page per movie.
    assert 0 < len(listings) <= 3, [(r.path, r.query) for r in listings]


def _has(srv: FakeJellyfin, key: str) -> bool:
    try:
        srv.item_id(key)
    except KeyError:
        return False
    return True


async def test_errors_unauthorized_and_unreachable(mixed: Cluster, name: str) -> None:
    srv = mixed.jellyfin(name)
    async with httpx.AsyncClient() as http:
        media = api(mixed, name, http)
        with pytest.raises(Unauthorized):
            await media.libraries(Credential("0123456789abcdef0123456789abcdef"))
        # A user's own token may not list the server's libraries: 403 on Jellyfin, 401 on Emby.
        with pytest.raises(Unauthorized):
            await media.libraries(Credential(srv.token_for("alice")))
        url = srv.url
        srv.stop()
        down = api(mixed, name, http, timeout=2.0)
        assert down.client.base_url == url
        with pytest.raises(Unreachable):
            await down.identify()
        with pytest.raises(Unreachable):
            await down.sessions(admin(mixed, name))
