"""JellyfinUserDirectory against the emulated Jellyfin and Emby servers of the mixed world."""

from __future__ import annotations

import httpx
import pytest

from manager.config import Config, ServerConfig, UserMapping
from manager.model import UserId
from manager.servers import kinds
from manager.servers.errors import Unreachable
from manager.servers.index import LibraryIndex
from manager.servers.jellyfin import kind
from manager.servers.jellyfin.server import JellyfinMediaServer
from manager.servers.jellyfin.users import JellyfinUserDirectory
from manager.servers.models import Credential, Session
from manager.servers.server import Server
from tests.fakeplex import Cluster
from tests.servers.jellyfin.helpers import directory, play, server

pytestmark = pytest.mark.anyio

# alice is "Alice Liddell" on Jellyfin and "alice" on Emby: only the map tells they are one.
ALICE = UserMapping("alice", (("jelly", "Alice Liddell"),))


async def test_people_matched_by_the_map_then_by_name(mixed: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
        alice = users.user(UserId("name:alice"))
        admin = users.user(UserId("name:admin"))
        bob = users.user(UserId("name:bob"))
        assert alice is not None and admin is not None and bob is not None
        assert (alice.name, alice.kind) == ("alice", "shared")
        assert (admin.kind, bob.kind) == ("owner", "shared")
        assert [u.name for u in users.all_users()] == ["admin", "alice", "bob"]
        assert [u.id for u in users.users("jelly")] == ["name:admin", "name:alice"]
        assert [u.id for u in users.users("emby")] == ["name:admin", "name:alice", "name:bob"]
        # The API key reads as nobody: no user's state comes with the library read.
        assert users.owner_of("jelly") is None and users.owner_of("emby") is None
        for name in ("jelly", "emby"):
            cred = await users.credential_for(alice, name)
            assert cred is not None
            assert (cred.secret, cred.user) == (mixed.api_key(name), mixed.user_id("alice", name))
        # bob has no account on Jellyfin: no credential there, and he is nobody's session.
        assert await users.credential_for(bob, "jelly") is None
        assert await users.credential_for(bob, "nowhere") is None
        assert users.refreshed_at is not None


async def test_without_the_map_different_names_are_different_people(mixed: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http)
        await users.refresh()
    names = {u.id: u.name for u in users.all_users()}
    assert names == {
        "name:admin": "admin",
        "name:alice liddell": "Alice Liddell",
        "name:alice": "alice",
        "name:bob": "bob",
    }


async def test_plays_matches_the_users_id_on_that_server(mixed: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
    alice, bob = users.user(UserId("name:alice")), users.user(UserId("name:bob"))
    assert alice is not None and bob is not None
    on_jelly = Session("1", mixed.user_id("alice", "jelly"), "Alice Liddell", "playing")
    on_emby = Session("1", mixed.user_id("alice", "emby"), "alice", "playing")
    assert users.plays("jelly", on_jelly, alice)
    assert not users.plays("jelly", on_emby, alice)  # her id there differs
    assert users.plays("emby", on_emby, alice)
    assert not users.plays("jelly", on_jelly, bob)


async def test_user_for_token_by_account_id_and_admin_key(mixed: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
        for name in ("jelly", "emby"):
            key = mixed.api_key(name)
            dashed = mixed.user_id("alice", name)
            dashed = f"{dashed[:8]}-{dashed[8:12]}-{dashed[12:16]}-{dashed[16:20]}-{dashed[20:]}"
            found = await users.user_for_token(name, key, account_id=dashed.upper())
            assert found is not None and found.id == "name:alice"
            assert await users.user_for_token(name, key) is None  # the key acts for nobody
            assert await users.user_for_token(name, key, account_id="f" * 32) is None


async def test_jellyfin_token_told_by_users_me_once(mixed: Cluster) -> None:
    srv = mixed.jellyfin("jelly")
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
        srv.clear_requests()
        token = srv.token_for("alice")
        first = await users.user_for_token("jelly", token, client_id="alice-tv")
        second = await users.user_for_token("jelly", token, client_id="alice-tv")
        asked = [r.path for r in srv.requests]
        unknown = "0123456789abcdef0123456789abcdef"
        assert await users.user_for_token("jelly", unknown) is None
        assert await users.user_for_token("jelly", unknown) is None
    assert first is not None and second == first and first.id == "name:alice"
    assert asked.count("/Users/Me") == 1  # the second event cost nothing
    me = [r for r in srv.requests if r.path == "/Users/Me"]
    assert len(me) == 2 and me[-1].token == unknown  # the unknown token: asked once


async def test_emby_token_told_by_the_clients_session(mixed: Cluster) -> None:
    srv = mixed.jellyfin("emby")
    heat = srv.item_id("heat")
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
        await play(mixed, "emby", "bob", heat, "bob-tv")
        srv.clear_requests()
        token = srv.token_for("bob")
        found = await users.user_for_token("emby", token, client_id="bob-tv", item_id=heat)
        again = await users.user_for_token("emby", token, client_id="bob-tv")
        lookups = [r.path for r in srv.requests]
        stranger = await users.user_for_token("emby", "f" * 32, client_id="nobodys-box")
        no_device = await users.user_for_token("emby", "e" * 32)
    assert found is not None and found.id == "name:bob" and again == found
    assert lookups == ["/Sessions"]  # one lookup, then the cache
    assert stranger is None and no_device is None
    assert "/Users/Me" not in [r.path for r in srv.requests]  # Emby has no such route


async def test_a_server_down_keeps_its_users(mixed: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        await users.refresh()
        mixed.jellyfin("emby").stop()
        await users.refresh()
    assert [u.id for u in users.users("emby")] == ["name:admin", "name:alice", "name:bob"]


async def test_a_server_never_read_is_unreachable_not_no_account(mixed: Cluster) -> None:
    """Down since the start: a write for it must wait (Unreachable), not be dropped as if
    the user had no account there (None); once it answers, its users are read."""
    emby = mixed.jellyfin("emby")
    async with httpx.AsyncClient() as http:
        users = directory(mixed, http, user_map=[ALICE])
        emby.go_down()
        await users.refresh()
        alice = users.user(UserId("name:alice"))
        assert alice is not None
        with pytest.raises(Unreachable):
            await users.credential_for(alice, "emby")
        emby.come_up()
        users._last_refresh = float("-inf")  # past the pause between two reads
        cred = await users.credential_for(alice, "emby")
    assert cred is not None and cred.user == mixed.user_id("alice", "emby")


async def test_the_kinds_builders(mixed: Cluster) -> None:
    jelly, emby = mixed.jellyfin("jelly"), mixed.jellyfin("emby")
    configs = (
        ServerConfig(name="jelly", url=jelly.url, token=jelly.api_key, kind="jellyfin"),
        ServerConfig(name="emby", url=emby.url, token=emby.api_key, kind="emby"),
    )
    config = Config(path="test", servers=configs, token="cluster", user_map=(ALICE,))
    async with httpx.AsyncClient() as http:
        built = [kinds.media_server(c, http, "builder-test") for c in configs]
        assert all(isinstance(b, JellyfinMediaServer) for b in built)
        assert [b.kind for b in built] == ["jellyfin", "emby"]
        assert (await built[1].identify()).id == emby.server_id
        servers = [server(mixed, "jelly", http), server(mixed, "emby", http)]
        # Jellyfin and Emby together: this kind's builder (the registry's directory() still
        # wants one config kind per cluster; the cross-kind directory will combine them).
        users = kind.directory(servers, http, "builder-test", config)
        assert isinstance(users, JellyfinUserDirectory)
        only = kinds.directory(servers[:1], http, "builder-test", config)
        assert isinstance(only, JellyfinUserDirectory)
        await users.refresh()
        assert [u.id for u in users.users("jelly")] == ["name:admin", "name:alice"]
        assert [u.id for u in users.users("emby")] == ["name:admin", "name:alice", "name:bob"]
        plex_config = mixed.servers["plex"]
        plex = ServerConfig(name="plex", url=plex_config.url, token="t", kind="plex")
        plex_api = kinds.media_server(plex, http, "builder-test")
        with pytest.raises(TypeError):  # a Plex server is not this directory's to serve
            users.update_server(Server(plex, plex_api, LibraryIndex(plex_api, Credential("t"))))
