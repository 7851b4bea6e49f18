"""The ledger keeps the newest state per (user, item) and refuses older changes."""

from __future__ import annotations

import stat
from pathlib import Path

from manager.model import Change, ItemKey, UserId
from manager.store import ledger
from manager.store.ledger import Observation
from manager.store.runner import DbRunner


def obs(
    change: str, at: float, offset: int | None = None, key: str = "movie:imdb://tt1"
) -> Observation:
    return Observation(
        user_id=UserId("7"),
        identity_key=ItemKey(key),
        change=Change(change),
        observed_at=at,
        source_server="alpha",
        offset_ms=offset,
        user_name="alice",
        kind="movie",
        title="Film",
    )


def test_db_file_is_private(tmp_path: Path) -> None:
    runner = DbRunner(f"sqlite:///{tmp_path / 'manager.db'}")
    runner.close()
    mode = stat.S_IMODE((tmp_path / "manager.db").stat().st_mode)
    assert mode == 0o600
    runner = DbRunner(f"sqlite:///{tmp_path / 'manager.db'}")
    try:
        journal = runner.call(lambda: runner.db.execute_sql("pragma journal_mode").fetchone()[0])
    finally:
        runner.close()
    assert journal == "wal"


def test_newer_wins_older_is_refused(runner: DbRunner) -> None:
    assert runner.call(ledger.record, obs("resume", 100.0, 1_200_000))
    assert runner.call(ledger.record, obs("played", 200.0))
    # A late resume point (observed before the scrobble) must not undo "played".
    assert not runner.call(ledger.record, obs("resume", 150.0, 600_000))
    state = runner.call(ledger.get, "7", "movie:imdb://tt1")
    assert state is not None
    assert (state.played, state.view_offset_ms, state.observed_at) == (True, None, 200.0)
    assert runner.call(ledger.record, obs("unplayed", 300.0))
    state = runner.call(ledger.get, "7", "movie:imdb://tt1")
    assert state is not None and state.played is False and state.change == "unplayed"


def test_resume_keeps_played_flag_and_same_time_is_accepted(runner: DbRunner) -> None:
    assert runner.call(ledger.record, obs("played", 100.0))
    assert runner.call(ledger.record, obs("resume", 100.0, 5000))
    state = runner.call(ledger.get, "7", "movie:imdb://tt1")
    assert state is not None and state.played is True and state.view_offset_ms == 5000
    assert runner.call(ledger.record, obs("resume", 50.0, 1, key="movie:imdb://tt2"))
    assert [s.identity_key for s in runner.call(lambda: list(ledger.for_user("7")))] == [
        "movie:imdb://tt1",
        "movie:imdb://tt2",
    ]


def test_found_under_any_of_its_keys(runner: DbRunner) -> None:
    # alpha knows the film by imdb and tmdb; gamma's legacy agent only by tmdb.
    first = Observation(
        user_id="7",
        identity_key="movie:imdb://tt1",
        change=Change.PLAYED,
        observed_at=200.0,
        source_server="alpha",
        aliases=("movie:tmdb://9",),
    )
    assert runner.call(ledger.record, first)
    late = Observation(
        user_id="7",
        identity_key="movie:tmdb://9",
        change=Change.RESUME,
        observed_at=100.0,
        source_server="gamma",
        offset_ms=5,
    )
    assert not runner.call(ledger.record, late)
    state = runner.call(ledger.get, "7", "movie:tmdb://9", "movie:imdb://tt1")
    assert state is not None and state.identity_key == "movie:imdb://tt1" and state.played
    newer = Observation(
        user_id="7",
        identity_key="movie:tmdb://9",
        change=Change.UNPLAYED,
        observed_at=300.0,
        source_server="gamma",
        aliases=("movie:imdb://tt1",),
    )
    assert runner.call(ledger.record, newer)
    rows = runner.call(lambda: list(ledger.for_user("7")))
    assert [(r.identity_key, r.played) for r in rows] == [("movie:imdb://tt1", False)]


def test_a_late_played_under_a_newer_resume_point_still_decides_played(runner: DbRunner) -> None:
    """Played at 100 on one server, a resume point at 200 on another, arriving in the
    other order: played (a resume point never undoes it), at the newer position."""
    assert runner.call(ledger.record, obs("resume", 200.0, 900_000))
    assert runner.call(ledger.record, obs("played", 100.0))
    state = runner.call(ledger.get, "7", "movie:imdb://tt1")
    assert state is not None
    assert (state.played, state.view_offset_ms, state.observed_at) == (True, 900_000, 200.0)
    # An even older unplayed changes nothing: played was decided at 100.
    assert not runner.call(ledger.record, obs("unplayed", 50.0))


def episode(change: str, at: float, offset: int | None = None) -> Observation:
    return Observation(
        user_id=UserId("7"), identity_key=ItemKey("episode:tvdb://1/s1e1"),
        change=Change(change), observed_at=at, source_server="alpha", offset_ms=offset,
        parents=(ItemKey("show:tvdb://1"), ItemKey("season:tvdb://1/s1")),
    )  # fmt: skip


def show(change: str, at: float) -> Observation:
    return Observation(
        user_id=UserId("7"), identity_key=ItemKey("show:tvdb://1"), change=Change(change),
        observed_at=at, source_server="beta", kind="show",
    )  # fmt: skip


def test_a_show_level_change_speaks_for_its_episodes(runner: DbRunner) -> None:
    """The owner had watched S01E01, then unwatched the whole show, then stopped S01E01 at
    37:23: the episode is unplayed with that resume point (issue 9)."""
    keys = [ItemKey("episode:tvdb://1/s1e1")]
    parents = [ItemKey("show:tvdb://1"), ItemKey("season:tvdb://1/s1")]
    assert runner.call(ledger.record, episode("played", 100.0))
    assert runner.call(ledger.record, show("unplayed", 200.0))
    mid = runner.call(ledger.effective, UserId("7"), keys, parents)
    assert mid is not None and (mid.played, mid.view_offset_ms) == (False, None)
    assert runner.call(ledger.record, episode("resume", 300.0, 2_243_000))
    row = runner.call(ledger.get, "7", keys[0])
    assert row is not None and (row.played, row.view_offset_ms) == (False, 2_243_000)
    # An episode change older than the show-level one is stale.
    assert not runner.call(ledger.record, episode("played", 150.0))
    assert runner.call(ledger.changed_under, UserId("7"), ItemKey("show:tvdb://1"), 250.0)
    assert not runner.call(ledger.changed_under, UserId("7"), ItemKey("show:tvdb://1"), 300.0)
