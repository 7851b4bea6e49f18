"""RecentStates: a state just read is handed out once, while fresh, and never after one of
our own writes to that item."""

from __future__ import annotations

import pytest

from manager.model import UserId
from manager.servers import recent
from manager.servers.models import MOVIE, MediaItem
from manager.servers.recent import MAX_AGE_S, ReadState, RecentStates

ALICE, BOB = UserId("alice"), UserId("bob")


def state(read_at: float) -> ReadState:
    item = MediaItem(id="1", kind=MOVIE, title="Heat", played=True, last_played_at=1_700_000_000)
    return ReadState(item, read_at)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("read_ago", "wrote_ago", "later", "expected"),
    [
        (1.0, None, 0.0, True),  # fresh, no write since: used
        (MAX_AGE_S + 1, None, 0.0, False),  # too old
        (1.0, None, MAX_AGE_S, False),  # fresh when noted, too old when taken
        (5.0, 2.0, 0.0, False),  # our write after the read
        (5.0, 5.0, 0.0, False),  # our write in the same instant: not trusted
        (5.0, 4.5, 0.0, False),  # our write half a second after the read
        (5.0, 5.5, 0.0, True),  # half a second before the read, in the second before it
        (4.6, 4.9, 0.0, False),  # before the read, in its second: writes are kept by the second
        (2.0, 5.0, 0.0, True),  # our write before the read: the read saw it
        (2.0, MAX_AGE_S - 1, 0.0, True),  # long before
    ],
)
def test_take(read_ago: float, wrote_ago: float | None, later: float, expected: bool) -> None:
    clock = Clock()
    states = RecentStates(clock)
    if wrote_ago is not None:
        clock.now -= wrote_ago
        states.wrote(ALICE, "1")
        clock.now += wrote_ago
    states.note(ALICE, "1", state(clock.now - read_ago))
    clock.now += later
    assert (states.take(ALICE, "1") is not None) is expected


def test_once_and_per_user() -> None:
    clock = Clock()
    states = RecentStates(clock)
    states.note(ALICE, "1", state(clock.now))
    assert states.take(BOB, "1") is None
    assert states.take(ALICE, "1") is not None
    assert states.take(ALICE, "1") is None


def test_a_write_drops_what_was_read_and_old_writes_are_forgotten() -> None:
    clock = Clock()
    states = RecentStates(clock)
    states.note(ALICE, "1", state(clock.now))
    states.wrote(ALICE, "1")
    assert len(states) == 0
    clock.now += MAX_AGE_S + 2
    states.wrote(BOB, "2")
    assert [by_user for _, by_user in states._writes] == [{BOB: {"2"}}]


def test_a_write_after_the_clock_stepped_back_is_not_hidden_behind_an_older_second() -> None:
    clock = Clock()
    states = RecentStates(clock)
    states.wrote(BOB, "2")  # at 1 000.0
    states.note(ALICE, "1", state(1_000.3))  # alice's read began at 1 000.3
    clock.now -= 1.2  # then the system clock is set back
    states.wrote(ALICE, "1")  # after that read, though the clock says 998.8
    states.note(ALICE, "1", state(1_000.3))  # the read, noted again
    assert states.take(ALICE, "1") is None


def test_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recent, "MAX_ENTRIES", 3)
    clock = Clock()
    states = RecentStates(clock)
    for i in range(5):
        states.note(ALICE, str(i), state(clock.now))
    assert len(states) == 3
    assert states.take(ALICE, "0") is None and states.take(ALICE, "4") is not None
