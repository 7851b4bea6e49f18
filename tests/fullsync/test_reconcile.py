"""The full sync's decision rule, case by case: the expected outcome is written out."""

import pytest

from manager.fullsync.reconcile import (
    Correction,
    LedgerEvidence,
    ServerState,
    decide_target,
    plan_corrections,
    reconcile,
)
from manager.model import Change

T0, T1, T2, T3 = 1_700_000_000.0, 1_700_000_100.0, 1_700_000_200.0, 1_700_000_300.0
A, B, C, NEW = 0, 1, 2, 3  # the servers' places in the list reconcile gets


def s(server: int, watched: bool = False, offset: int | None = None, at: float | None = None):
    return ServerState(server, watched, offset, at)


CASES = [
    # (name, states, ledger, expected writes)
    ("nobody has anything", [s(A), s(B)], None, []),
    ("watched spreads", [s(A, True, at=T1), s(B)], None, [Correction(B, Change.PLAYED)]),
    (
        "newest resume point spreads",
        [s(A, offset=60_000, at=T1), s(B, offset=1_200_000, at=T2), s(C)],
        None,
        [
            Correction(A, Change.RESUME, 1_200_000),
            Correction(C, Change.RESUME, 1_200_000),
        ],
    ),
    (
        "resume point never undoes watched, even when newer",
        [s(A, True, at=T1), s(B, offset=600_000, at=T2)],
        None,
        [Correction(B, Change.PLAYED)],
    ),
    (
        "unwatched on a server without ledger proof does not spread",
        [s(A, True, at=T1), s(B, False, at=T2)],
        None,
        [Correction(B, Change.PLAYED)],
    ),
    (
        "ledger-proven unwatch newer than watched spreads",
        [s(A, at=T1), s(B, True, at=T1)],
        LedgerEvidence(False, None, T2),
        [Correction(B, Change.UNPLAYED)],
    ),
    (
        "watched after the ledger's unwatch wins",
        [s(A, True, at=T3), s(B)],
        LedgerEvidence(False, None, T2),
        [Correction(B, Change.PLAYED)],
    ),
    (
        "ledger-proven unwatch also clears an older resume point",
        [s(A, offset=30_000, at=T0), s(B, True, at=T0)],
        LedgerEvidence(False, None, T1),
        [Correction(A, Change.UNPLAYED), Correction(B, Change.UNPLAYED)],
    ),
    (
        "resume after a proven unwatch goes everywhere",
        [s(A, offset=900_000, at=T3), s(B, True, at=T1), s(C)],
        LedgerEvidence(False, None, T2),
        [
            Correction(B, Change.RESUME, 900_000, unscrobble_first=True),
            Correction(C, Change.RESUME, 900_000),
        ],
    ),
    (
        "positions within tolerance are equal: nothing to write",
        [s(A, offset=600_000, at=T1), s(B, offset=605_000, at=T2)],
        None,
        [],
    ),
    (
        "empty new server gets everything, existing servers untouched",
        [s(A, True, at=T1), s(B, offset=300_000, at=T2), s(NEW)],
        None,
        [Correction(B, Change.PLAYED), Correction(NEW, Change.PLAYED)],
    ),
    (
        "ledger watched with no server evidence",
        [s(A), s(B)],
        LedgerEvidence(True, None, T1),
        [Correction(A, Change.PLAYED), Correction(B, Change.PLAYED)],
    ),
]


@pytest.mark.parametrize(
    ("states", "ledger", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_expected_writes(states, ledger, expected) -> None:
    _, writes = reconcile(states, ledger)
    assert writes == expected


@pytest.mark.parametrize(("states", "ledger"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_second_run_after_applying_writes_writes_nothing(states, ledger) -> None:
    target, writes = reconcile(states, ledger)
    written = {w.server for w in writes}
    # Plex stamps lastViewedAt with "now" on an API write: the applied state looks newest.
    after = [
        s(st.server, target.watched, target.view_offset_ms, T3 + 1000)
        if st.server in written
        else st
        for st in states
    ]
    assert plan_corrections(after, decide_target(after, ledger)) == []
