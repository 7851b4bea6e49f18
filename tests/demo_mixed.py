"""The mixed demo's scenario: Plex → Jellyfin → Emby → Plex, each step made with that
kind's real client through that server's proxy (python-plexapi, jellyfin-apiclient-python,
embyclient), on the emulator's `mixed` world (tests/fakeplex/fixtures/mixed.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.support.mixed_world import MIN_TICKS, MixedWorld

# (user, catalogue entry) pairs the scenario touches; the demo prints their state everywhere.
ROWS = [
    ("alice", "matrix"),
    ("admin", "matrix"),
    ("alice", "office/s01e02"),
    ("admin", "office/s01e03"),
    ("bob", "arrival"),
    ("alice", "inception"),
]


@dataclass(frozen=True)
class Step:
    says: str
    act: Callable[[MixedWorld], None]


def _plex_played(user: str, key: str, played: bool = True) -> Callable[[MixedWorld], None]:
    def act(world: MixedWorld) -> None:
        item = world.plex(user).fetchItem(int(world.item("plex", key)))
        item.markPlayed() if played else item.markUnplayed()

    return act


def _jellyfin_stop(user: str, key: str, minutes: int) -> Callable[[MixedWorld], None]:
    def act(world: MixedWorld) -> None:
        client = world.jellyfin(user).jellyfin
        base = {"ItemId": world.item("jelly", key), "PlaySessionId": f"demo-{user}-{key}"}
        client.session_playing({**base, "PositionTicks": 0})
        client.session_progress({**base, "PositionTicks": minutes * MIN_TICKS // 2})
        client.session_stop({**base, "PositionTicks": minutes * MIN_TICKS})

    return act


def _emby_played(user: str, key: str) -> Callable[[MixedWorld], None]:
    def act(world: MixedWorld) -> None:
        world.emby(user).post_users_by_userid_playeditems_by_id(
            world.cluster.user_id(user, "emby"), world.item("emby", key)
        )

    return act


def scenario() -> list[Step]:
    return [
        Step("Plex: alice marks The Matrix played", _plex_played("alice", "matrix")),
        Step("Jellyfin: admin stops The Matrix at 20:00", _jellyfin_stop("admin", "matrix", 20)),
        Step(
            "Emby: alice marks The Office S01E02 played",
            _emby_played("alice", "office/s01e02"),
        ),
        Step(
            "Plex: admin marks The Office S01E03 played",
            _plex_played("admin", "office/s01e03"),
        ),
        Step(
            "Plex: admin marks The Office S01E03 unplayed again",
            _plex_played("admin", "office/s01e03", played=False),
        ),
        Step(
            "Plex: bob marks Arrival played (bob has no Jellyfin account)",
            _plex_played("bob", "arrival"),
        ),
        Step(
            "Plex: alice marks Inception played (Emby lacks it)",
            _plex_played("alice", "inception"),
        ),
    ]
