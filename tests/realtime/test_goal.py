"""What a peer should hold when a write is delivered, whether it already does, whether it
holds something newer, and the writes that bring it there: case by case."""

from __future__ import annotations

import pytest

from manager.model import Change, ItemKey, UserId
from manager.realtime.goal import Goal, goal_for, holds, peer_is_newer, steps
from manager.servers.models import MediaItem
from manager.store.ledger import LedgerEntry
from manager.store.outbox import Write

T1, T2, T3 = 1_790_000_100.0, 1_790_000_200.0, 1_790_000_300.0


def write(change: Change, at: float = T1, time_ms: int | None = None, **kw: object) -> Write:
    return Write(
        peer="beta", user_id=UserId("u"), identity_key=ItemKey("movie:imdb://tt1"),
        change=change, item_id="10", observed_at=at, time_ms=time_ms, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def known(played: bool | None, offset: int | None, at: float, source: str = "alpha"):
    change = Change.RESUME if offset else (Change.PLAYED if played else Change.UNPLAYED)
    return LedgerEntry(UserId("u"), ItemKey("k"), played, offset, None, at, source, change, "", "")


def peer(played: bool = False, resume: int = 0, stamp: int | None = None) -> MediaItem:
    return MediaItem(
        "10", "movie", "M", played=played, play_count=int(played), resume_ms=resume,
        last_played_at=stamp,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "w", "entry", "goal"),
    [
        ("no ledger: the write itself", write(Change.PLAYED), None, Goal(True, None, T1, "")),
        (
            "a newer ledger state wins over the waiting write",
            write(Change.PLAYED),
            known(False, None, T2),
            Goal(False, None, T2, "alpha"),
        ),
        (
            "an older ledger state does not",
            write(Change.UNPLAYED, T2),
            known(True, None, T1),
            Goal(False, None, T2, ""),
        ),
        (
            "played with a later resume point keeps both",
            write(Change.RESUME, T2, 600_000),
            known(True, 600_000, T2),
            Goal(True, 600_000, T2, "alpha"),
        ),
        (
            "a minute or less is no resume point",
            write(Change.UNPLAYED, T1),
            known(False, 30_000, T2),
            Goal(False, None, T2, "alpha"),
        ),
        (
            "a resume point after unplayed, from the full sync",
            write(Change.RESUME, T1, 900_000, unscrobble_first=True),
            None,
            Goal(False, 900_000, T1, ""),
        ),
    ],
)
def test_goal(name: str, w: Write, entry: LedgerEntry | None, goal: Goal) -> None:
    assert goal_for(w, entry) == goal


@pytest.mark.parametrize(
    ("name", "goal", "state", "held"),
    [
        ("played is played", Goal(True, None, T1, ""), peer(True), True),
        ("a second scrobble is never needed", Goal(True, None, T1, ""), peer(True, 5000), True),
        ("not yet played", Goal(True, None, T1, ""), peer(False, 900_000), False),
        ("same position within 10 s", Goal(None, 3_000_000, T1, ""), peer(False, 3_008_000), True),
        ("another position", Goal(None, 3_000_000, T1, ""), peer(False, 1_200_000), False),
        ("unplayed is unplayed", Goal(False, None, T1, ""), peer(False, 0), True),
        ("unplayed clears a position too", Goal(False, None, T1, ""), peer(False, 900_000), False),
        ("played with a position", Goal(True, 600_000, T1, ""), peer(True, 600_000), True),
        ("resume after unplayed", Goal(False, 900_000, T1, ""), peer(True, 900_000), False),
    ],
)
def test_holds(name: str, goal: Goal, state: MediaItem, held: bool) -> None:
    assert holds(goal, state) is held


def test_holds_for_a_show_reads_its_episodes() -> None:
    show = MediaItem("1", "show", "S")
    played = [MediaItem(str(i), "episode", "e", played=True) for i in range(3)]
    half = [*played[:2], MediaItem("9", "episode", "e", resume_ms=900_000)]
    assert holds(Goal(True, None, T1, ""), show, played)
    assert not holds(Goal(True, None, T1, ""), show, half)
    assert not holds(Goal(False, None, T1, ""), show, half)
    clean = [MediaItem(str(i), "episode", "e") for i in range(3)]
    assert holds(Goal(False, None, T1, ""), show, clean)


@pytest.mark.parametrize(
    ("name", "goal", "state", "ours", "newer"),
    [
        ("no date on an unplayed peer", Goal(None, 600_000, T2, ""), peer(), [], False),
        (
            "a later change made there",
            Goal(None, 600_000, T2, "alpha"),
            peer(False, 1_200_000, int(T3)),
            [],
            True,
        ),
        (
            "our own write's stamp dates from its change",
            Goal(None, 600_000, T2, "alpha"),
            peer(False, 1_200_000, int(T3)),
            [(int(T3), T1)],
            False,
        ),
        (
            "the goal's own change, made on this peer",
            Goal(False, 600_000, T2, "beta"),
            peer(True, 600_000, int(T2) + 1),
            [],
            False,
        ),
        (
            "a newer resume point never beats played",
            Goal(True, None, T2, "alpha"),
            peer(False, 1_200_000, int(T3)),
            [],
            False,
        ),
        (
            "a newer played beats an unwatch",
            Goal(False, None, T2, "alpha"),
            peer(True, 0, int(T3)),
            [],
            True,
        ),
        (
            "an older stamp",
            Goal(None, 600_000, T2, "alpha"),
            peer(False, 1_200_000, int(T1)),
            [],
            False,
        ),
    ],
)
def test_peer_is_newer(
    name: str, goal: Goal, state: MediaItem, ours: list[tuple[int, float]], newer: bool
) -> None:
    assert peer_is_newer(goal, state, "beta", ours) is newer


@pytest.mark.parametrize(
    ("goal", "state", "todo"),
    [
        (Goal(True, None, T1, ""), peer(False, 900_000), [Change.PLAYED]),
        (Goal(True, 600_000, T1, ""), peer(False), [Change.PLAYED, Change.RESUME]),
        (Goal(True, 600_000, T1, ""), peer(True), [Change.RESUME]),
        (Goal(False, None, T1, ""), peer(True), [Change.UNPLAYED]),
        (Goal(False, 900_000, T1, ""), peer(True), [Change.UNPLAYED, Change.RESUME]),
        (Goal(False, 900_000, T1, ""), peer(False, 100_000), [Change.RESUME]),
        (Goal(None, 900_000, T1, ""), peer(True), [Change.RESUME]),
    ],
)
def test_steps(goal: Goal, state: MediaItem, todo: list[Change]) -> None:
    assert steps(goal, state) == todo
