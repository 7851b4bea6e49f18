import json

import pytest

from manager.event import EVENT_VERSION, EventError, PlaybackEvent


def _event(**overrides: object) -> PlaybackEvent:
    values: dict[str, object] = {
        "kind": "timeline",
        "rating_key": "42",
        "token": "abcdefghijkl",
        "upstream_url": "http://127.0.0.1:32400",
        "state": "stopped",
        "time_ms": 1_200_000,
        "duration_ms": 5_400_000,
    }
    values.update(overrides)
    return PlaybackEvent(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    event = _event(client_id="abc", machine_identifier="m1", proxy_name="alpha")
    assert PlaybackEvent.from_json(event.to_json()) == event


def test_each_event_gets_its_own_id() -> None:
    assert _event().id != _event().id


def test_unknown_keys_are_ignored_so_newer_proxies_work() -> None:
    data = _event().to_dict() | {"future_field": 1}
    assert PlaybackEvent.from_dict(data).rating_key == "42"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "unsupported event version"),
        ({"kind": "delete"}, "unknown kind"),
        ({"rating_key": ""}, "rating_key"),
        ({"token": None}, "token"),
        ({"state": "flying"}, "unknown state"),
        ({"time_ms": "soon"}, "time_ms"),
        ({"seen_at": "yesterday"}, "seen_at"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(change: dict[str, object], message: str) -> None:
    data = _event().to_dict() | change
    with pytest.raises(EventError, match=message):
        PlaybackEvent.from_dict(data)


def test_non_json_and_non_object_are_refused() -> None:
    with pytest.raises(EventError, match="not JSON"):
        PlaybackEvent.from_json(b"{nope")
    with pytest.raises(EventError, match="JSON object"):
        PlaybackEvent.from_json(json.dumps([1, 2]))


def test_numeric_strings_are_coerced() -> None:
    data = _event().to_dict() | {"time_ms": "1000", "upstream_status": "204"}
    event = PlaybackEvent.from_dict(data)
    assert (event.time_ms, event.upstream_status, event.v) == (1000, 204, EVENT_VERSION)
