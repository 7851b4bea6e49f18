"""UserDirectory against the demo's plex.tv: owner, shared (alice, bob) and managed (kid)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from manager.model import ClusterUser, UserId
from manager.servers.errors import RateLimited, Unauthorized
from manager.servers.plex.users import PlexUserDirectory
from tests.fakeplex import Cluster
from tests.servers.helpers import directory, plextv_client, server


async def secret_for(users: PlexUserDirectory, user: ClusterUser, name: str) -> str | None:
    """The secret of the user's credential on that server, or None."""
    credential = await users.credential_for(user, name)
    return credential.secret if credential is not None else None


pytestmark = pytest.mark.anyio


async def test_who_can_use_each_server(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, _, _ = directory(cluster, http)
        await users.refresh()
    kinds = {u.name: u.kind for u in users.all_users()}
    assert kinds == {"admin": "owner", "alice": "shared", "bob": "shared", "kid": "managed"}
    assert [u.name for u in users.users("alpha")] == ["admin", "alice", "bob", "kid"]
    assert [u.name for u in users.users("gamma")] == ["admin", "alice", "kid"]  # bob: no gamma
    assert users.owner_of("beta") == users.user_by_name("admin")
    assert users.user(UserId("2002")) == users.user_by_name("ALICE")
    assert users.user(UserId("nobody")) is None


async def test_tokens_per_user_and_server(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, _, clients = directory(cluster, http)
        await users.refresh()
        for server in cluster.servers:
            for user in users.users(server):
                secret = await secret_for(users, user, server)
                assert secret == cluster.token_for(user.name, server), (user.name, server)
                # The token works there, as that user.
                assert secret is not None and await clients[server].sections(secret)
        bob = users.user_by_name("bob")
        assert bob is not None
        assert await secret_for(users, bob, "gamma") is None
        admin = users.user_by_name("admin")
        assert admin is not None
        assert await secret_for(users, admin, "alpha") == cluster.servers["alpha"].owner_token
        # A shared user's server tokens differ per server: never reuse one elsewhere.
        alice = users.user_by_name("alice")
        assert alice is not None
        assert await secret_for(users, alice, "alpha") != await secret_for(users, alice, "beta")


async def test_identifying_tokens_costs_no_plextv_call_once_known(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, plextv, _ = directory(cluster, http, unknown_refresh_interval=3600.0)
        await users.refresh()
        calls = len(cluster.plextv.requests)
        for server in cluster.servers:
            for name in ("admin", "alice", "bob", "kid"):
                if name == "bob" and server == "gamma":
                    continue
                found = await users.user_for_token(server, cluster.token_for(name, server))
                assert found is not None and found.name == name, (name, server)
        # alice's alpha token means nothing on beta: tokens are per server.
        assert await users.user_for_token("beta", cluster.token_for("alice", "alpha")) is None
        assert len(cluster.plextv.requests) == calls + 1  # one plex.tv look-up, the unknown one
        assert await users.user_for_token("beta", cluster.token_for("alice", "alpha")) is None
        assert await users.user_for_token("beta", "garbage-token-xyz") is None
        assert await users.user_for_token("beta", "garbage-token-xyz") is None
        # Unknown tokens: one plex.tv look-up each, then remembered as unknown.
        assert len(cluster.plextv.requests) == calls + 2
        assert plextv.request_count == len(cluster.plextv.requests)


async def test_unknown_token_triggers_rate_limited_refresh(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        # Directory built before alice's share existed in our cache: start empty.
        users, _, _ = directory(cluster, http, unknown_refresh_interval=0.0)
        alice_beta = cluster.token_for("alice", "beta")
        found = await users.user_for_token("beta", alice_beta)  # refreshes, then knows
        assert found is not None and found.name == "alice"
        assert users.refreshed_at is not None
        users.unknown_refresh_interval = 3600.0
        before = len(cluster.plextv.requests)
        assert await users.user_for_token("beta", "another-unknown") is None
        paths = [r.path for r in cluster.plextv.requests[before:]]
        assert paths == ["/api/v2/user"]  # no refresh within the interval


async def test_owner_device_token_identified_through_plextv(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, _, _ = directory(cluster, http, unknown_refresh_interval=3600.0)
        await users.refresh()
        # kid's own plex.tv token (what switching gives a Home client) is not a server
        # token we hold; plex.tv says whose it is, and only then is it remembered.
        kid_account = cluster.account_token("kid")
        found = await users.user_for_token("alpha", kid_account)
        assert found is not None and found.name == "kid"
        before = len(cluster.plextv.requests)
        assert await users.user_for_token("alpha", kid_account) == found
        assert len(cluster.plextv.requests) == before


async def test_transient_token_known_by_session_and_dies_with_restart(cluster: Cluster) -> None:
    alpha = cluster.servers["alpha"]
    rk = alpha.find_key(title="Inception")
    async with httpx.AsyncClient() as http:
        users, _, clients = directory(cluster, http, unknown_refresh_interval=3600.0)
        await users.refresh()
        transient = alpha.issue_transient_token("alice")
        # alice's player, with a transient token, is playing Inception on alpha.
        await http.get(
            f"{alpha.url}/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "playing",
                "time": "1000",
                "duration": "8880000",
            },
            headers={"X-Plex-Token": transient, "X-Plex-Client-Identifier": "alice-phone"},
        )
        found = await users.user_for_token("alpha", transient, client_id="alice-phone", item_id=rk)
        assert found is not None and found.name == "alice"
        # The directory's own token for alice is not the transient one.
        assert await secret_for(users, found, "alpha") == cluster.token_for("alice", "alpha")
        assert await users.user_for_token("beta", transient) is None

        alpha.restart()
        with pytest.raises(Unauthorized):
            await clients["alpha"].sections(transient)
        # A 401 on a token we handed out: invalidate, and the next credential_for refetches.
        kid = users.user_by_name("kid")
        assert kid is not None
        before = len(cluster.plextv.requests)
        users.invalidate(kid, "alpha")
        secret = await secret_for(users, kid, "alpha")
        assert secret == cluster.token_for("kid", "alpha")
        assert secret is not None and await clients["alpha"].sections(secret)
        paths = [r.path for r in cluster.plextv.requests[before:]]
        assert any(p.endswith("/switch") for p in paths) and "/api/v2/resources" in paths
        # Invalidated again at once: no second plex.tv round inside refetch_min_interval.
        users.invalidate(kid, "alpha")
        before = len(cluster.plextv.requests)
        assert await secret_for(users, kid, "alpha") is None
        assert len(cluster.plextv.requests) == before


async def test_plextv_429_backs_off_then_succeeds_or_gives_up(cluster: Cluster) -> None:
    admin = cluster.account_token("admin")
    async with httpx.AsyncClient() as http:
        plextv = plextv_client(cluster, http)
        cluster.plextv.fail_next(2, 429)
        account = await plextv.account(admin)
        assert account.username == "admin" and account.id == 1001
        assert plextv.rate_limited_count == 2 and plextv.request_count == 3

        cluster.plextv.fail_next(None, 429)
        try:
            with pytest.raises(RateLimited) as err:
                await plextv.users(admin)
        finally:
            cluster.plextv.fail_next(0)
        assert err.value.status == 429
        assert plextv.request_count == 3 + plextv.max_retries + 1
        assert [u.username for u in await plextv.users(admin) if u.username] == ["alice", "bob"]


async def test_plextv_reads(cluster: Cluster) -> None:
    admin = cluster.account_token("admin")
    gamma = cluster.servers["gamma"]
    async with httpx.AsyncClient() as http:
        plextv = plextv_client(cluster, http)
        users = {u.name: u for u in await plextv.users(admin)}
        assert users["bob"].machine_identifiers == (
            cluster.servers["alpha"].machine_identifier,
            cluster.servers["beta"].machine_identifier,
        )
        assert users["kid"].restricted and users["kid"].home
        shares = await plextv.shared_servers(admin, gamma.machine_identifier)
        assert [(s.username, s.access_token) for s in shares] == [
            ("alice", cluster.token_for("alice", "gamma"))
        ]
        assert "accessToken" not in repr(shares) and shares[0].access_token not in repr(shares)
        home = {h.name: h for h in await plextv.home_users(admin)}
        assert home["admin"].admin and home["kid"].restricted and home["kid"].uuid
        by_uuid = await plextv.switch_home_user(admin, home["kid"].uuid)
        by_id = await plextv.switch_home_user(admin, home["kid"].id)
        assert by_uuid == by_id == cluster.account_token("kid")
        resources = {r.name: r for r in await plextv.resources(by_uuid)}
        assert resources["Gamma"].access_token == cluster.token_for("kid", "gamma")
        assert resources["Gamma"].client_identifier == gamma.machine_identifier
        with pytest.raises(Unauthorized):
            await plextv.account("nope-not-a-token")


async def test_one_bad_server_does_not_blind_the_others(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, _, clients = directory(cluster, http)
        gamma, beta = cluster.servers["gamma"], cluster.servers["beta"]
        # gamma configured with a wrong admin token, beta not reached yet (no machine id).
        users.update_server(
            server("gamma", clients["gamma"], "wrong-token-123", gamma.machine_identifier)
        )
        users.update_server(server("beta", clients["beta"], beta.owner_token, ""))
        await users.refresh()
        assert [u.name for u in users.users("alpha")] == ["admin", "alice", "bob", "kid"]
        assert users.users("gamma") == [] and users.users("beta") == []
        alice = users.user_by_name("alice")
        assert alice is not None
        assert await secret_for(users, alice, "gamma") is None
        # beta's identity becomes known: it joins on the next refresh.
        users.update_server(
            server("beta", clients["beta"], beta.owner_token, beta.machine_identifier)
        )
        await users.refresh()
        assert await secret_for(users, alice, "beta") == cluster.token_for("alice", "beta")

        # Every admin token wrong: refresh fails loudly, keeping nothing invented.
        only_bad, _, _ = directory(cluster, http)
        for name, srv in cluster.servers.items():
            only_bad.update_server(server(name, clients[name], "bad", srv.machine_identifier))
        with pytest.raises(Unauthorized):
            await only_bad.refresh()


async def test_a_token_seen_during_a_reload_waits_for_it_instead_of_being_unknown(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient() as http:
        users, _, _ = directory(cluster, http, unknown_refresh_interval=3600.0)
        cluster.plextv.set_delay(0.2)  # the reload is still on its way when the event comes
        reload = asyncio.ensure_future(users.refresh())
        await asyncio.sleep(0.05)
        found = await users.user_for_token("beta", cluster.token_for("alice", "beta"))
        await reload
    assert found is not None and found.name == "alice"


# A Plex webhook names its user by the server's account id: 1 for the server's owner, the
# plex.tv id for everyone else (see manager/servers/plex/webhook.py).
ACCOUNT_CASES = [
    ("owner's account 1 on alpha", "alpha", "1", "admin"),
    ("owner's account 1 on gamma", "gamma", "1", "admin"),
    ("alice by plex.tv id", "alpha", "alice", "alice"),
    ("kid (managed) by plex.tv id", "gamma", "kid", "kid"),
    ("bob cannot use gamma", "gamma", "bob", None),
    ("an account nobody has", "alpha", "999999", None),
    ("an unknown server", "nowhere", "1", None),
]


@pytest.mark.parametrize(("name", "server", "account", "expected"), ACCOUNT_CASES)
async def test_a_webhook_account_id_names_the_user(
    cluster: Cluster, name: str, server: str, account: str, expected: str | None
) -> None:
    account_id = account if account.isdigit() else cluster.user_id(account, server)
    async with httpx.AsyncClient() as http:
        users, _, _ = directory(cluster, http)
        await users.refresh()
        found = await users.user_for_token(server, None, account_id=account_id)
    assert (found.name if found else None) == expected, name


async def test_without_a_token_no_token_lookup_is_tried(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        users, _, _ = directory(cluster, http)
        await users.refresh()

        async def no_lookup(token: str) -> None:
            raise AssertionError("a token lookup without a token")

        users.plextv.account = no_lookup  # type: ignore[method-assign,assignment]
        assert await users.user_for_token("alpha", None) is None
        assert await users.user_for_token("alpha", "", client_id="player-1") is None
        # An unknown account reloads the roster once, then is nobody (no token lookup).
        assert await users.user_for_token("alpha", None, account_id="424242") is None
