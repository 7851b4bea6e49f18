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
        ({"v": 2}, "'v'"),
        ({"kind": "delete"}, "'kind'"),
        ({"rating_key": ""}, "rating_key"),
        ({"token": None}, "token"),
        ({"state": "flying"}, "'state'"),
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


def test_types_are_strict_numbers_as_text_are_refused() -> None:
    """One schema, strict: a sender that puts "1000" where 1000 belongs is told so (400)
    rather than guessed at; a proxy of ours always sends numbers."""
    data = _event().to_dict() | {"time_ms": "1000", "upstream_status": "204"}
    with pytest.raises(EventError, match=r"'time_ms'.*'upstream_status'"):
        PlaybackEvent.from_dict(data)
    event = PlaybackEvent.from_dict(_event().to_dict() | {"seen_at": 1_763_712_000})
    assert (event.seen_at, event.v) == (1_763_712_000.0, EVENT_VERSION)  # an int is a float


def test_a_webhook_event_has_no_token_but_an_account() -> None:
    event = _event(token=None, account_id="1", proxy_name="webhook")
    assert PlaybackEvent.from_json(event.to_json()) == event
    # An old proxy's event, a token and no account, reads as before.
    old = {k: v for k, v in _event().to_dict().items() if k != "account_id"}
    assert PlaybackEvent.from_dict(old).token == "abcdefghijkl"


def test_token_or_account_id_is_required() -> None:
    data = {k: v for k, v in _event().to_dict().items() if k != "token"}
    with pytest.raises(EventError, match=r"event is invalid .*token or account_id required"):
        PlaybackEvent.from_dict(data)
    with pytest.raises(EventError, match="token or account_id required"):
        _event(token=None).validated()
