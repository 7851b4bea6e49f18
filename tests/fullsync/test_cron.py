import datetime as dt

import pytest
import schedule

from manager.cron import CronError, parse, schedule_cron


def _next_runs(expr: str) -> list[dt.datetime]:
    sched = schedule.Scheduler()
    jobs = schedule_cron(expr, lambda: None, sched)
    return sorted(j.next_run for j in jobs if j.next_run is not None)


def test_original_nightly_form_runs_once_a_day_at_two() -> None:
    runs = _next_runs("0 2 * * *")
    assert len(runs) == 1
    assert (runs[0].hour, runs[0].minute) == (2, 0)


def test_every_fifteen_minutes_is_four_hourly_jobs() -> None:
    runs = _next_runs("*/15 * * * *")
    assert sorted({r.minute for r in runs}) == [0, 15, 30, 45]


def test_weekday_names_and_ranges() -> None:
    assert parse("30 4 * * mon-fri") == ([30], [4], [1, 2, 3, 4, 5])
    assert parse("0 */6 * * 0,7") == ([0], [0, 6, 12, 18], [0])
    runs = _next_runs("30 4 * * sun")
    assert len(runs) == 1 and runs[0].weekday() == 6


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 2 * *", "5 fields"),
        ("0 2 1 * *", "day-of-month"),
        ("61 2 * * *", "outside"),
        ("0 x * * *", "not a number"),
        ("*/0 * * * *", "bad step"),
        ("* * * * *", None),
    ],
)
def test_bad_or_unsupported_expressions(expr: str, message: str | None) -> None:
    if message is None:
        assert len(_next_runs(expr)) == 60
        return
    with pytest.raises(CronError, match=message):
        parse(expr)
