"""What state change an event stands for (issue 4 §5)."""

from __future__ import annotations

import pytest

from manager.event import PlaybackEvent
from manager.realtime.interpret import decide


def ev(
    kind: str, state: str | None = None, time_ms: int | None = None, duration: int | None = None
) -> PlaybackEvent:
    return PlaybackEvent(
        kind=kind,
        rating_key="1",
        token="t",
        upstream_url="http://127.0.0.1:1",
        state=state,
        time_ms=time_ms,
        duration_ms=duration,
    )


@pytest.mark.parametrize(
    ("event", "change", "time_ms", "heartbeat"),
    [
        (ev("scrobble"), "played", None, False),
        (ev("unscrobble"), "unplayed", None, False),
        (ev("timeline", "stopped", 1_200_000, 6_000_000), "resume", 1_200_000, False),
        (ev("timeline", "paused", 1_000, 6_000_000), "resume", 1_000, False),
        (ev("timeline", "playing", 60_000, 6_000_000), "resume", 60_000, True),
        (ev("timeline", "buffering", 60_000, 6_000_000), "resume", 60_000, True),
        (ev("timeline", "stopped", 5_500_000, 6_000_000), "played", None, False),
        (ev("timeline", "playing", 5_500_000, 6_000_000), "played", None, True),
        (ev("progress", None, 30_000), "resume", 30_000, False),
        (ev("timeline", "stopped", None, 6_000_000), None, None, False),
    ],
)
def test_decide(
    event: PlaybackEvent, change: str | None, time_ms: int | None, heartbeat: bool
) -> None:
    d = decide(event, None, 0.9)
    assert (d.change, d.time_ms, d.heartbeat) == (change, time_ms, heartbeat)


def test_item_duration_used_when_event_has_none() -> None:
    assert decide(ev("timeline", "stopped", 95, None), 100, 0.9).change == "played"
    assert decide(ev("timeline", "stopped", 95, None), None, 0.9).change == "resume"
