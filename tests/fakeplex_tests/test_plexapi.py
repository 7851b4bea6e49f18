"""The emulator driven by python-plexapi, a real client written by others."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from plexapi.exceptions import NotFound, Unauthorized
from plexapi.myplex import MyPlexAccount
from plexapi.server import PlexServer

from tests.fakeplex import Cluster, start_cluster

from .helpers import movies_fixture, plextv_session


def connect(cluster: Cluster, server: str, user: str = "admin") -> PlexServer:
    srv = cluster.servers[server]
    return PlexServer(srv.url, cluster.token_for(user, server))


def test_connect_reads_root_identity(demo_cluster: Cluster) -> None:
    for name, srv in demo_cluster.servers.items():
        plex = connect(demo_cluster, name)
        assert plex.machineIdentifier == srv.machine_identifier
        assert plex.friendlyName == srv.friendly_name
        assert plex.myPlexUsername == "admin@example.com"
        assert plex.identity().machineIdentifier == srv.machine_identifier
    machine_ids = {s.machine_identifier for s in demo_cluster.servers.values()}
    assert len(machine_ids) == 3


def test_sections_named_differently_on_gamma(demo_cluster: Cluster) -> None:
    got = {
        name: sorted((s.title, s.type) for s in connect(demo_cluster, name).library.sections())
        for name in ("alpha", "beta", "gamma")
    }
    assert got["alpha"] == [("Movies", "movie"), ("TV Shows", "show")]
    assert got["beta"] == got["alpha"]
    assert got["gamma"] == [("Films", "movie"), ("Series", "show")]


def test_search_include_guids_new_and_legacy_agents(demo_cluster: Cluster) -> None:
    alpha = connect(demo_cluster, "alpha")
    gamma = connect(demo_cluster, "gamma")
    demo_cluster.servers["alpha"].clear_requests()
    movies = alpha.library.section("Movies").search(includeGuids=True)
    sent = [r for r in demo_cluster.servers["alpha"].requests if r.path.endswith("/all")]
    assert sent and sent[-1].query.get("includeGuids") == "1"
    matrix = next(m for m in movies if m.title == "The Matrix")
    assert matrix.guid.startswith("plex://movie/")
    assert {g.id for g in matrix.guids} == {"imdb://tt0133093", "tmdb://603"}

    g_matrix = next(m for m in gamma.library.section("Films").search() if m.title == "The Matrix")
    assert g_matrix.guid == "com.plexapp.agents.imdb://tt0133093?lang=en"
    assert g_matrix.guids == []
    assert g_matrix.ratingKey != matrix.ratingKey


def test_same_title_shares_external_ids_not_rating_keys(demo_cluster: Cluster) -> None:
    a = connect(demo_cluster, "alpha").library.section("TV Shows").get("The Office (US)")
    g = connect(demo_cluster, "gamma").library.section("Series").get("The Office (US)")
    assert a.guid == g.guid and a.guid.startswith("plex://show/")
    assert {x.id for x in a.guids} == {x.id for x in g.guids}
    assert "tvdb://73244" in {x.id for x in a.guids}
    assert a.ratingKey != g.ratingKey
    ea = a.episode(season=1, episode=2)
    eg = g.episode(season=1, episode=2)
    assert ea.title == eg.title == "Diversity Day"
    assert {x.id for x in ea.guids} == {x.id for x in eg.guids}
    assert ea.ratingKey != eg.ratingKey
    b = connect(demo_cluster, "beta").library.section("TV Shows").get("The Office (US)")
    assert b.guid == "com.plexapp.agents.thetvdb://73244?lang=en"
    assert b.episode(season=1, episode=2).guid == "com.plexapp.agents.thetvdb://73244/1/2?lang=en"


def test_each_server_has_a_movie_the_others_lack(demo_cluster: Cluster) -> None:
    titles = {
        name: {m.title for m in connect(demo_cluster, name).library.sections()[0].all()}
        for name in ("alpha", "beta", "gamma")
    }
    for name, mine in titles.items():
        others = set().union(*(t for n, t in titles.items() if n != name))
        assert mine - others, name


def test_paging_through_more_than_100_items() -> None:
    with start_cluster(movies_fixture(250)) as cluster:
        srv = cluster.servers["solo"]
        plex = PlexServer(srv.url, srv.owner_token)
        section = plex.library.section("Movies")
        srv.clear_requests()
        movies = section.search()
        assert len(movies) == 250
        assert len({m.ratingKey for m in movies}) == 250
        starts = [
            r.headers.get("X-Plex-Container-Start") for r in srv.requests if r.path.endswith("/all")
        ]
        assert starts == ["0", "100", "200"]
        assert section.totalViewSize() == 250
        assert [m.title for m in section.search(maxresults=5)] == [
            f"Film {i:04d}" for i in range(5)
        ]


def test_mark_played_and_unplayed_movie(demo_cluster: Cluster) -> None:
    plex = connect(demo_cluster, "alpha")
    movie = plex.library.section("Movies").get("Inception")
    assert not movie.isPlayed and movie.viewCount == 0
    movie.markPlayed()
    movie.reload()
    assert movie.isPlayed and movie.viewCount == 1 and movie.lastViewedAt is not None
    movie.markPlayed()
    movie.reload()
    assert movie.viewCount == 2
    movie.markUnplayed()
    movie.reload()
    assert not movie.isPlayed and movie.viewCount == 0 and movie.lastViewedAt is None


def test_show_and_season_cascade(demo_cluster: Cluster) -> None:
    plex = connect(demo_cluster, "alpha")
    show = plex.library.section("TV Shows").get("Breaking Bad")
    assert show.leafCount == 10 and show.viewedLeafCount == 0 and not show.isPlayed
    season1 = show.season(season=1)
    season1.markPlayed()
    show.reload()
    assert show.viewedLeafCount == 7 and not show.isPlayed
    assert all(e.isPlayed for e in season1.episodes())
    assert not any(e.isPlayed for e in show.season(season=2).episodes())
    show.markPlayed()
    show.reload()
    assert show.isPlayed
    assert all(e.viewCount == 1 for e in show.episodes())
    season1.markUnplayed()
    show.reload()
    assert show.viewedLeafCount == 3
    show.markUnplayed()
    show.reload()
    assert show.viewedLeafCount == 0
    assert all(e.viewCount == 0 for e in show.episodes())


def test_unscrobble_clears_resume_point(demo_cluster: Cluster) -> None:
    plex = connect(demo_cluster, "alpha")
    movie = plex.library.section("Movies").get("Heat")
    movie.updateTimeline(600_000, state="stopped")
    movie.reload()
    assert movie.viewOffset == 600_000 and movie.isPartialObject() is False
    movie.markUnplayed()
    movie.reload()
    assert movie.viewOffset == 0


def test_update_timeline_and_progress_as_owner(demo_cluster: Cluster) -> None:
    plex = connect(demo_cluster, "alpha")
    ep = plex.library.section("TV Shows").get("Dark").episode(season=1, episode=1)
    ep.updateTimeline(120_000, state="stopped")
    ep.reload()
    assert ep.viewOffset == 120_000 and ep.viewCount == 0 and ep.lastViewedAt is not None
    assert ep.isPlayed is False
    ep.updateProgress(240_000)
    ep.reload()
    assert ep.viewOffset == 240_000
    assert plex.library.section("TV Shows").search(libtype="episode", inProgress=True) == [ep]
    ep.updateTimeline(ep.duration - 1000, state="stopped")  # past the 90 % threshold
    ep.reload()
    assert ep.isPlayed and ep.viewOffset == 0
    assert demo_cluster.servers["alpha"].state("admin", ep.ratingKey)["view_count"] == 1


def test_per_user_state_owner_and_shared(demo_cluster: Cluster) -> None:
    admin = connect(demo_cluster, "beta")
    alice = connect(demo_cluster, "beta", "alice")
    bob = connect(demo_cluster, "beta", "bob")
    a_movie = alice.library.section("Movies").get("Arrival")
    a_movie.markPlayed()
    a_movie.updateTimeline(600_000, state="stopped")  # rewatching
    assert alice.fetchItem(int(a_movie.ratingKey)).viewCount == 1
    assert alice.fetchItem(int(a_movie.ratingKey)).viewOffset == 600_000
    for other in (admin, bob):
        m = other.fetchItem(int(a_movie.ratingKey))
        assert m.viewCount == 0 and m.viewOffset == 0 and m.lastViewedAt is None
    unwatched_alice = {m.title for m in alice.library.section("Movies").search(unwatched=True)}
    unwatched_admin = {m.title for m in admin.library.section("Movies").search(unwatched=True)}
    assert "Arrival" not in unwatched_alice and "Arrival" in unwatched_admin
    st = demo_cluster.servers["beta"].state("alice", a_movie.ratingKey)
    assert st["view_count"] == 1 and st["view_offset"] == 600_000
    assert st["last_viewed_at"] == int(a_movie.reload().lastViewedAt.timestamp())
    assert demo_cluster.servers["beta"].state("bob", a_movie.ratingKey) == {
        "view_count": 0,
        "view_offset": 0,
        "last_viewed_at": None,
    }


def test_shared_user_update_progress_is_401_but_timeline_works(demo_cluster: Cluster) -> None:
    alice = connect(demo_cluster, "alpha", "alice")
    movie = alice.library.section("Movies").get("Amélie")
    with pytest.raises(Unauthorized):
        movie.updateProgress(300_000)
    assert demo_cluster.servers["alpha"].state("alice", movie.ratingKey)["view_offset"] == 0
    movie.updateTimeline(300_000, state="stopped")
    movie.reload()
    assert movie.viewOffset == 300_000


def test_managed_user_progress_allowed(demo_cluster: Cluster) -> None:
    kid = connect(demo_cluster, "gamma", "kid")
    movie = kid.library.section("Films").get("Spirited Away")
    movie.updateProgress(300_000)
    movie.reload()
    assert movie.viewOffset == 300_000
    assert demo_cluster.servers["gamma"].state("admin", movie.ratingKey)["view_offset"] == 0


def test_tokens_are_per_server(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    with pytest.raises(Unauthorized):
        PlexServer(alpha.url, demo_cluster.account_token("alice"))
    with pytest.raises(Unauthorized):
        PlexServer(alpha.url, demo_cluster.token_for("alice", "beta"))
    with pytest.raises(KeyError):
        demo_cluster.token_for("bob", "gamma")
    # the owner's account token works everywhere
    for srv in demo_cluster.servers.values():
        assert PlexServer(srv.url, demo_cluster.account_token("admin")).friendlyName


def test_transient_token_dies_on_restart(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    tok = alpha.issue_transient_token("alice")
    assert PlexServer(alpha.url, tok).library.sections()
    with pytest.raises(Unauthorized):
        PlexServer(demo_cluster.servers["beta"].url, tok)
    alpha.restart()
    with pytest.raises(Unauthorized):
        PlexServer(alpha.url, tok)


def test_fetch_by_key_list_and_not_found(demo_cluster: Cluster) -> None:
    plex = connect(demo_cluster, "alpha")
    keys = [int(m.ratingKey) for m in plex.library.section("Movies").all()[:3]]
    assert [int(m.ratingKey) for m in plex.fetchItems(keys)] == keys
    with pytest.raises(NotFound):
        plex.fetchItem(999_999)


def test_myplex_account_via_emulated_plextv(demo_cluster: Cluster) -> None:
    session = plextv_session(demo_cluster.plextv_url)
    account = MyPlexAccount(token=demo_cluster.account_token("admin"), session=session)
    assert account.username == "admin" and account.id == 1001
    users = {u.title: u for u in account.users()}
    assert set(users) == {"alice", "bob", "kid"}
    assert users["kid"].home and users["kid"].restricted
    assert {s.machineIdentifier for s in users["bob"].servers} == {
        demo_cluster.servers["alpha"].machine_identifier,
        demo_cluster.servers["beta"].machine_identifier,
    }
    # plexapi's own way to a friend's server token: shared_servers, matched on userID
    for name, srv in demo_cluster.servers.items():
        for friend in ("alice", "bob"):
            got = users[friend].get_token(srv.machine_identifier)
            want = srv.user_tokens.get(friend)
            assert got == want, (friend, name)
    resources = {r.clientIdentifier: r for r in account.resources()}
    alpha = demo_cluster.servers["alpha"]
    assert resources[alpha.machine_identifier].accessToken == alpha.owner_token
    assert resources[alpha.machine_identifier].connections[0].uri == alpha.url

    kid = account.switchHomeUser("kid")
    assert kid.authToken == demo_cluster.account_token("kid")
    kid_resources = {r.clientIdentifier: r for r in kid.resources()}
    for name, srv in demo_cluster.servers.items():
        token = kid_resources[srv.machine_identifier].accessToken
        assert token == demo_cluster.token_for("kid", name)
        assert PlexServer(srv.url, token).library.sections()


def test_search_by_last_played_after_a_time_per_user(demo_cluster: Cluster) -> None:
    """`lastViewedAt>>=` ("after", as plexapi writes a date filter) lists what the asking
    user played or left a resume point in since then; the owner's plays are not alice's."""
    since = datetime.now() - timedelta(minutes=5)
    admin, alice = connect(demo_cluster, "beta"), connect(demo_cluster, "beta", "alice")
    arrival = alice.library.section("Movies").get("Arrival")
    arrival.markPlayed()
    alien = admin.library.section("Movies").get("Alien")
    alien.markPlayed()
    after = alice.library.section("Movies").search(filters={"lastViewedAt>>": since})
    assert [m.title for m in after] == ["Arrival"]
    later = datetime.now() + timedelta(minutes=5)
    assert alice.library.section("Movies").search(filters={"lastViewedAt>>": later}) == []
    before = alice.library.section("Movies").search(filters={"lastViewedAt<<": later})
    assert [m.title for m in before] == ["Arrival"]
    arrival.markUnplayed()  # an unplayed mark leaves no date: the item is not "after" anything
    assert alice.library.section("Movies").search(filters={"lastViewedAt>>": since}) == []
    alien.markUnplayed()  # the cluster is shared with other tests
