"""servers/peer_clock.py: a server's clock learned from one read-back, stamps predicted
from it, and never from an offset older than a minute."""

from __future__ import annotations

import pytest

from manager.servers.peer_clock import MAX_AGE_S, SLACK_S, PeerClock, same_stamp


@pytest.mark.parametrize(
    ("learned", "write", "expected"),
    [
        # (stamp, sent, answered) learned; (sent, answered) of a later write; its stamp
        ((1_000, 10.0, 10.1), (20.0, 20.1), 1_010),  # the server runs 990 s ahead
        ((1_000, 10.9, 11.0), (20.9, 21.0), 1_010),  # a stamp set late in its second
        ((5, 100.0, 100.2), (130.0, 130.2), 35),  # the server runs 95 s behind
        ((1_000, 10.0, 10.1), (10.0 + MAX_AGE_S + 1, 10.0 + MAX_AGE_S + 1.1), None),  # stale
    ],
)
def test_stamp_for(
    learned: tuple[int, float, float], write: tuple[float, float], expected: int | None
) -> None:
    clock = PeerClock()
    clock.learn(*learned)
    assert clock.stamp_for(*write) == expected


def test_an_unknown_clock_predicts_nothing() -> None:
    assert PeerClock().stamp_for(10.0, 10.1) is None


@pytest.mark.parametrize(
    ("ours", "seen", "same"),
    [
        (100, 100, True),
        (100, 100 + SLACK_S, True),
        (100, 100 - SLACK_S, True),
        (100, 100 + SLACK_S + 1, False),
        (100, 100 - SLACK_S - 1, False),
    ],
)
def test_same_stamp(ours: int, seen: int, same: bool) -> None:
    assert same_stamp(ours, seen) is same
