"""People across kinds (servers/people.py): who is joined, who is not, and why — by table."""

from __future__ import annotations

import asyncio

import pytest

from manager.config import UserMapping
from manager.model import UserKind
from manager.servers.models import Session
from manager.servers.people import CrossKindDirectory, Part
from tests.support.fake_server import FakeDirectory

Users = dict[str, tuple[UserKind, set[str]]]


def cluster(
    plex: Users,
    jelly: Users,
    *,
    user_map: tuple[UserMapping, ...] = (),
    aliases: dict[str, tuple[str, ...]] | None = None,
) -> tuple[CrossKindDirectory, FakeDirectory, FakeDirectory]:
    p = FakeDirectory([], plex, prefix="plex-", aliases=aliases)
    j = FakeDirectory([], jelly, prefix="jf-")
    directory = CrossKindDirectory(
        [Part(p, {"home": "plex"}), Part(j, {"travel": "jellyfin", "family": "emby"})], user_map
    )
    asyncio.run(directory.refresh())
    return directory, p, j


def people(directory: CrossKindDirectory) -> dict[str, list[str]]:
    """Each person's id and the servers they can use, as a comparable table."""
    out: dict[str, list[str]] = {}
    for server in ("home", "travel", "family"):
        for user in directory.users(server):
            out.setdefault(f"{user.id}={user.name}", []).append(server)
    return out


ALICE_EVERYWHERE: Users = {"alice": ("shared", {"travel", "family"})}


@pytest.mark.parametrize(
    ("plex", "jelly", "user_map", "aliases", "expected", "unmatched"),
    [
        pytest.param(
            {"Alice": ("owner", {"home"})},
            ALICE_EVERYWHERE,
            (),
            None,
            {"plex-Alice=Alice": ["home", "travel", "family"]},
            [],
            id="same name, any case: one person with the Plex id",
        ),
        pytest.param(
            {"alice_p": ("shared", {"home"})},
            ALICE_EVERYWHERE,
            (),
            {"alice_p": ("Alice",)},
            {"plex-alice_p=alice_p": ["home", "travel", "family"]},
            [],
            id="Plex title matches",
        ),
        pytest.param(
            {"ally": ("shared", {"home"})},
            ALICE_EVERYWHERE,
            (UserMapping("alice", (("plex", "Ally"), ("travel", "alice"))),),
            None,
            {"plex-ally=alice": ["home", "travel", "family"]},
            [],
            id="config map joins different names",
        ),
        pytest.param(
            {"ally": ("shared", {"home"})},
            ALICE_EVERYWHERE,
            (),
            None,
            {"plex-ally=ally": ["home"], "jf-alice=alice": ["travel", "family"]},
            [("ally", "plex"), ("alice", "emby/jellyfin")],
            id="different names, no map: never guessed",
        ),
        pytest.param(
            {"sam": ("owner", {"home"}), "sammy": ("shared", {"home"})},
            {"Sam": ("shared", {"travel"})},
            (),
            {"sammy": ("Sam",)},
            {"plex-sam=sam": ["home"], "plex-sammy=sammy": ["home"], "jf-Sam=Sam": ["travel"]},
            [("Sam", "emby/jellyfin"), ("sam", "plex"), ("sammy", "plex")],
            id="two Plex users answer to the name: ambiguous, left apart",
        ),
        pytest.param(
            {"bob": ("shared", {"home"})},
            {"bob": ("shared", {"travel"}), "robert": ("shared", {"family"})},
            (UserMapping("rob", (("plex", "bob"), ("emby", "robert"))),),
            None,
            {"plex-bob=rob": ["home", "family"], "jf-bob=bob": ["travel"]},
            [("bob", "emby/jellyfin")],
            id="a mapped person is not also matched by name",
        ),
    ],
)
def test_who_is_joined(
    plex: Users,
    jelly: Users,
    user_map: tuple[UserMapping, ...],
    aliases: dict[str, tuple[str, ...]] | None,
    expected: dict[str, list[str]],
    unmatched: list[tuple[str, str]],
) -> None:
    directory, _, _ = cluster(plex, jelly, user_map=user_map, aliases=aliases)
    assert people(directory) == expected
    assert sorted((u.name, u.kinds) for u in directory.unmatched()) == sorted(unmatched)


def test_each_kind_answers_for_its_own_servers() -> None:
    directory, plex, jelly = cluster({"alice": ("owner", {"home"})}, ALICE_EVERYWHERE)
    (alice,) = directory.all_users()
    on_plex = asyncio.run(directory.credential_for(alice, "home"))
    on_emby = asyncio.run(directory.credential_for(alice, "family"))
    assert on_plex is not None and on_plex.secret == "alice@home"
    assert on_emby is not None and on_emby.secret == "alice@family"
    assert asyncio.run(directory.credential_for(alice, "elsewhere")) is None
    # A Jellyfin credential is that person's, under their Plex id.
    assert asyncio.run(directory.user_for_token("travel", "alice@travel")) == alice
    assert asyncio.run(directory.user_for_token("travel", "alice@home")) is None
    assert directory.owner_of("home") == alice and directory.owner_of("travel") is None
    directory.invalidate(alice, "family")
    assert jelly.invalidated == [("alice", "family")] and plex.invalidated == []
    playing = Session("item-1", "jf-user", "alice", "playing")
    assert directory.plays("travel", playing, alice)
    assert not directory.plays("travel", Session("item-1", "x", "bob", "playing"), alice)


def test_a_failing_kind_keeps_its_users_and_the_others_refresh() -> None:
    directory, plex, jelly = cluster({"alice": ("owner", {"home"})}, ALICE_EVERYWHERE)

    async def down() -> None:
        raise ConnectionError("plex.tv unreachable")

    plex.refresh = down  # type: ignore[method-assign]
    jelly.people["bob"] = jelly.people["alice"].__class__("jf-bob", "bob", "shared")  # type: ignore[arg-type]
    jelly.access["bob"] = {"travel"}
    with pytest.raises(ConnectionError):
        asyncio.run(directory.refresh())
    assert jelly.refreshed_at is not None
    assert sorted(u.name for u in directory.users("travel")) == ["alice", "bob"]
    assert [u.name for u in directory.users("home")] == ["alice"]
