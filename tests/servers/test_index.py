"""LibraryIndex across the demo's three servers: same item, different ratingKeys."""

from __future__ import annotations

import httpx
import pytest

from manager.servers.identity import identity_key, identity_of
from manager.servers.index import LibraryIndex
from manager.servers.models import Credential, MediaItem
from manager.servers.plex.models import TYPE_EPISODE, TYPE_MOVIE
from manager.servers.plex.server import PlexMediaServer
from tests.fakeplex import Cluster, MovieSpec
from tests.servers.helpers import server_clients

pytestmark = pytest.mark.anyio


async def _indexes(
    cluster: Cluster, http: httpx.AsyncClient, **kwargs: object
) -> dict[str, LibraryIndex]:
    out = {}
    for name, client in server_clients(cluster, http).items():
        owner = Credential(cluster.servers[name].owner_token)
        index = LibraryIndex(PlexMediaServer(client), owner, page_size=3, **kwargs)  # type: ignore[arg-type]
        await index.refresh()
        out[name] = index
    return out


def _by_title(index: LibraryIndex, items: list[MediaItem], title: str) -> MediaItem:
    return next(i for i in items if i.title == title)


async def test_build_pages_every_section_and_counts(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        indexes = await _indexes(cluster, http)
    assert indexes["alpha"].counts == {"movie": 7, "show": 3, "season": 5, "episode": 24}
    assert indexes["beta"].counts == {"movie": 6, "show": 3, "season": 4, "episode": 20}
    assert indexes["gamma"].counts == {"movie": 6, "show": 3, "season": 4, "episode": 17}
    listing = [r for r in cluster.servers["alpha"].requests if r.path.endswith("/all")]
    # page_size 3: 7 movies → 3 pages; shows 1, seasons 2, episodes 8 pages.
    assert len(listing) == 3 + 1 + 2 + 8
    assert all(r.query.get("includeGuids") == "1" for r in listing)
    alpha = indexes["alpha"]
    assert sum(1 for _ in alpha.items()) == len(alpha) == 39
    episodes = list(alpha.items("episode"))
    assert len(episodes) == 24 and alpha.item(episodes[0].id) == episodes[0]
    assert alpha.item("999999") is None


async def test_movies_found_across_agents_and_library_names(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        indexes = await _indexes(cluster, http)
        alpha = server_clients(cluster, http)["alpha"]
        movies = await alpha.all_items(cluster.servers["alpha"].owner_token, "1", TYPE_MOVIE)
    matrix_item = _by_title(indexes["alpha"], movies, "The Matrix")
    matrix = identity_of(matrix_item)
    on_beta = indexes["beta"].lookup(matrix)
    on_gamma = indexes["gamma"].lookup(matrix)  # gamma: legacy IMDb agent, library "Films"
    assert on_beta is not None and on_gamma is not None
    keys = {matrix_item.id, on_beta.id, on_gamma.id}
    assert on_beta.title == on_gamma.title == "The Matrix" and len(keys) == 3
    # gamma's legacy IMDb agent: no plex guid, the IMDb id from its agent guid.
    assert on_gamma.guid is None and on_gamma.external_ids == ("imdb://tt0133093",)
    assert on_gamma.library == "Films"
    # The original's "same library name only" rule: Movies ≠ Films.
    assert indexes["gamma"].lookup(matrix, library_title="Movies") is None
    assert indexes["gamma"].lookup(matrix, library_title="films") == on_gamma
    assert indexes["beta"].lookup(matrix, library_title="Movies") == on_beta
    # And back: the legacy item's identity finds the new-agent one.
    back = indexes["alpha"].lookup(indexes["gamma"].identity(on_gamma))
    assert back is not None and back.id == matrix_item.id
    assert identity_key(indexes["gamma"].identity(on_gamma)) == identity_key(matrix)

    fast = identity_of(_by_title(indexes["alpha"], movies, "Fast & Furious"))  # alpha only
    assert indexes["beta"].lookup(fast) is None and indexes["gamma"].lookup(fast) is None
    assert indexes["alpha"].lookup(fast) is not None


async def test_episodes_by_guid_and_by_show_plus_numbers(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        indexes = await _indexes(cluster, http)
        clients = server_clients(cluster, http)
        alpha_eps = await clients["alpha"].all_items(
            cluster.servers["alpha"].owner_token, "2", TYPE_EPISODE
        )
        beta_eps = await clients["beta"].all_items(
            cluster.servers["beta"].owner_token, "2", TYPE_EPISODE
        )
    office_s1e2 = next(
        e
        for e in alpha_eps
        if e.show_title == "The Office (US)" and (e.season_number, e.episode_number) == (1, 2)
    )
    ident = indexes["alpha"].identity(office_s1e2)
    # gamma (new agent, library "Series"): same plex guid.
    on_gamma = indexes["gamma"].lookup(ident)
    assert on_gamma is not None and on_gamma.guid == office_s1e2.guid
    assert on_gamma.id != office_s1e2.id
    # beta (legacy TheTVDB agent, no <Guid>s): only the show's tvdb id + S01E02 match.
    on_beta = indexes["beta"].lookup(ident)
    assert on_beta is not None and on_beta.title == "Diversity Day"
    assert on_beta.guid is None and on_beta.show_ids == ("tvdb://73244",)
    # And from the legacy side back to the new agent, without reading the show.
    legacy_ident = identity_of(on_beta)
    assert legacy_ident.show_ids == {"tvdb://73244"} and legacy_ident.external_ids == frozenset()
    back = indexes["alpha"].lookup(legacy_ident)
    assert back is not None and back.id == office_s1e2.id
    assert identity_key(legacy_ident) == identity_key(ident)

    # Breaking Bad season 2 is not on beta (only season 1), Dark not at all.
    bb_s2 = next(e for e in alpha_eps if e.show_title == "Breaking Bad" and e.season_number == 2)
    assert indexes["beta"].lookup(indexes["alpha"].identity(bb_s2)) is None
    dark = next(e for e in alpha_eps if e.show_title == "Dark")
    assert indexes["beta"].lookup(indexes["alpha"].identity(dark)) is None
    assert indexes["gamma"].lookup(indexes["alpha"].identity(dark)) is not None
    # Severance is on beta and gamma only.
    sev = next(e for e in beta_eps if "tvdb://371980" in e.show_ids)
    assert indexes["alpha"].lookup(identity_of(sev)) is None
    assert indexes["gamma"].lookup(identity_of(sev)) is not None


async def test_shows_and_seasons_across_servers(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        indexes = await _indexes(cluster, http)
    alpha_show_rk = cluster.servers["alpha"].find_key(title="The Office (US)", type="show")
    show = indexes["alpha"].show(alpha_show_rk)
    assert show is not None
    ident = identity_of(show)
    beta_show = indexes["beta"].lookup_show(ident)
    gamma_show = indexes["gamma"].lookup_show(ident, library_title="Series")
    assert beta_show is not None and beta_show.title == "The Office (US)"
    assert gamma_show is not None and gamma_show.library == "Series"
    assert indexes["gamma"].lookup_show(ident, library_title="TV Shows") is None
    season2 = indexes["beta"].lookup_season(ident, 2)
    assert season2 is not None and season2.show_id == beta_show.id
    assert indexes["beta"].lookup(identity_of(season2)) == season2
    # A season identity from the legacy server finds the new-agent season.
    alpha_season = indexes["alpha"].lookup(identity_of(season2))
    assert alpha_season is not None and alpha_season.show_id == alpha_show_rk
    assert alpha_season.season_number == 2
    bb = indexes["alpha"].show(cluster.servers["alpha"].find_key(title="Breaking Bad"))
    assert bb is not None and indexes["beta"].lookup_season(identity_of(bb), 2) is None


async def test_find_refreshes_on_miss_at_most_every_interval(cluster: Cluster) -> None:
    beta = cluster.servers["beta"]
    async with httpx.AsyncClient() as http:
        indexes = await _indexes(cluster, http, refresh_min_interval=3600.0)
        index = LibraryIndex(
            PlexMediaServer(server_clients(cluster, http)["beta"]),
            Credential(beta.owner_token),
            refresh_min_interval=3600.0,
        )
        # Never built: the first miss builds it.
        alpha_rk = cluster.servers["alpha"].find_key(title="Heat")
        heat = indexes["alpha"].identity(
            await server_clients(cluster, http)["alpha"].item(
                cluster.servers["alpha"].owner_token, alpha_rk
            )
        )
        assert await index.find(heat) is None
        assert len(index) == 33
        # Heat arrives on beta: a lookup misses, find() would refresh but the interval holds.
        beta.add_movie(
            1,
            MovieSpec(
                key="heat2",
                title="Heat",
                year=1995,
                duration=10200000,
                plex="0f0f0f0f",
                imdb="tt0113277",
                tmdb=949,
            ),
        )
        before = len(beta.requests)
        assert await index.find(heat) is None
        assert len(beta.requests) == before  # no rebuild inside the interval
        index.refresh_min_interval = 0.0
        found = await index.find(heat)
        assert found is not None and found.title == "Heat"
        assert len(beta.requests) > before
