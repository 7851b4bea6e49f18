"""The manager's event door, fuzzed, on the real manager (subprocess) and in-process.

Properties: any body gets 202, 400 or 413, never a 500 and never a dropped connection;
what the door accepts is exactly what the schema accepts; every accepted event is then
processed to an outcome without crashing (no `event_crashed`, no traceback in the log).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from manager.app.receiver import MAX_EVENTS
from manager.event import EventError, PlaybackEvent, TooManyEvents, read_batch
from tests.fuzz.conftest import ManagerWorld
from tests.fuzz.strategies import bodies, event_dicts, fuzz_settings, json_values
from tests.support.configs import MANAGER_TOKEN
from tests.support.polling import wait_for

AUTH = {"Authorization": f"Bearer {MANAGER_TOKEN}", "Content-Type": "application/json"}
CRASHES = {"event_crashed", "request_failed", "connection_failed"}


@fuzz_settings(500)
@given(value=json_values)
def test_any_json_is_an_event_or_an_event_error(value: Any) -> None:
    try:
        event = PlaybackEvent.from_dict(value)
    except EventError:
        return
    assert PlaybackEvent.from_json(event.to_json()) == event
    event.to_json().encode("utf-8")  # no lone surrogate got through


@fuzz_settings(300)
@given(body=st.binary(max_size=300) | json_values.map(lambda v: repr(v).encode()))
def test_any_body_is_items_or_an_event_error(body: bytes) -> None:
    try:
        items = read_batch(body, 3)
    except TooManyEvents:
        return
    except EventError:
        return
    assert len(items) <= 3


def accepted_ids(items: list[Any]) -> list[str]:
    ids = []
    for item in items:
        try:
            ids.append(PlaybackEvent.from_dict(item).id)
        except EventError:
            continue
    return ids


def processed(world: ManagerWorld, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The first processing line of each event id (or its crash), once all have one."""

    def lines() -> dict[str, dict[str, Any]] | None:
        seen: dict[str, dict[str, Any]] = {}
        for entry in world.manager.logs():
            if entry.get("event") in ("event", "event_crashed") and entry.get("event_id") in ids:
                seen.setdefault(entry["event_id"], entry)
        return seen if set(seen) == ids else None

    return wait_for(lines, 60, "every accepted event processed")


def test_hostile_events_at_the_real_manager(manager_world: ManagerWorld) -> None:
    servers = list(manager_world.cluster.servers.values())
    accepted: set[str] = set()
    statuses: Counter[int] = Counter()

    @fuzz_settings(60)
    @given(body=bodies(event_dicts(servers)), data=st.data())
    def post(body: bytes, data: st.DataObject) -> None:
        r = httpx.post(
            f"{manager_world.manager.url}/api/v1/events", content=body, headers=AUTH, timeout=30
        )
        assert r.status_code in (202, 400, 413), r.text
        statuses[r.status_code] += 1
        if r.status_code == 413:
            return
        try:
            items = read_batch(body, MAX_EVENTS)
        except EventError:
            assert r.status_code == 400
            return
        ids = accepted_ids(items)
        if r.status_code == 400:
            assert ids == []
            return
        reply = r.json()
        assert reply["accepted"] + reply["duplicates"] == len(ids)
        assert reply["rejected_count"] == len(items) - len(ids)
        accepted.update(ids)

    post()
    outcomes = processed(manager_world, accepted)
    log = manager_world.manager.logs()
    assert [e for e in log if e.get("event") in CRASHES or "exception" in e] == []
    assert {e.get("outcome") for e in outcomes.values()} & {"error", "unreadable", None} == set()
    print(f"\nevents door: answers {dict(statuses)}, {len(accepted)} events accepted, outcomes")
    print(dict(Counter(e.get("outcome") for e in outcomes.values())))
