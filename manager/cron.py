"""Run a job on a cron expression with the `schedule` package.

`schedule` has no cron syntax, but the original product's `FULL_SYNC_SCHEDULE` is a cron
line (`0 2 * * *`). The minute, hour and weekday fields map onto `schedule`'s hourly, daily
and weekday jobs; day-of-month and month do not, and are refused with a clear message
rather than silently run at the wrong time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schedule

_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DAY_NAMES = {name[:3]: i for i, name in enumerate(_WEEKDAYS)}
_MAX_JOBS = 300


class CronError(ValueError):
    """A cron expression this scheduler cannot run."""


def _field(
    text: str, low: int, high: int, what: str, names: dict[str, int] | None = None
) -> list[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{what}: bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, what, names), _number(last, what, names)
        else:
            start = _number(part, what, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{what}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return sorted(values)


def _number(text: str, what: str, names: dict[str, int] | None) -> int:
    if names and text.lower()[:3] in names:
        return names[text.lower()[:3]]
    if not text.isdigit():
        raise CronError(f"{what}: {text!r} is not a number")
    return int(text)


def parse(expr: str) -> tuple[list[int], list[int], list[int] | None]:
    """(minutes, hours, weekdays or None for every day) of a five-field cron expression."""
    fields = expr.split()
    if len(fields) != 5:
        raise CronError(f"{expr!r}: a cron expression has 5 fields (minute hour day month weekday)")
    minute, hour, dom, month, dow = fields
    if dom != "*" or month != "*":
        raise CronError(f"{expr!r}: day-of-month and month fields must be '*'")
    minutes = _field(minute, 0, 59, "minute")
    hours = _field(hour, 0, 23, "hour")
    weekdays = (
        None if dow == "*" else sorted({d % 7 for d in _field(dow, 0, 7, "weekday", _DAY_NAMES)})
    )
    return minutes, hours, weekdays


def schedule_cron(
    expr: str, job: Callable[[], Any], scheduler: schedule.Scheduler | None = None
) -> list[schedule.Job]:
    """Register `job` to run at every time `expr` names; returns the jobs made."""
    minutes, hours, weekdays = parse(expr)
    sched = scheduler or schedule.default_scheduler
    jobs: list[schedule.Job] = []
    if weekdays is None and len(hours) == 24:
        if len(minutes) > 60:
            raise CronError(f"{expr!r}: too many minutes")
        for m in minutes:
            jobs.append(sched.every().hour.at(f":{m:02d}").do(job))
        return jobs
    days = [None] if weekdays is None else weekdays
    if len(days) * len(hours) * len(minutes) > _MAX_JOBS:
        raise CronError(f"{expr!r}: fires too often to schedule by weekday and time")
    for day in days:
        for h in hours:
            for m in minutes:
                every = sched.every()
                unit = every.day if day is None else getattr(every, _WEEKDAYS[day])
                jobs.append(unit.at(f"{h:02d}:{m:02d}").do(job))
    return jobs
