"""The original product's door (`POST /?token=`), fuzzed, in-process and on the real manager.

Properties: a line is mapped to an event, ignored (a replay) or refused with EventError,
nothing else; any body gets 200 or 400, never a 500; what is accepted is processed to an
outcome without crashing.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from manager.event import EventError, loads
from manager.servers.plex.legacy import from_legacy
from tests.fuzz.conftest import ManagerWorld
from tests.fuzz.strategies import bodies, fuzz_settings, json_values, legacy_lines
from tests.support.configs import MANAGER_TOKEN
from tests.support.polling import wait_for

HOSTS = ["127.0.0.1", "plex.example:32401"]


@fuzz_settings(500)
@given(line=legacy_lines(HOSTS) | json_values)
def test_a_line_is_an_event_a_replay_or_an_event_error(line: Any) -> None:
    try:
        event = from_legacy(line)
    except EventError:
        return
    if event is not None:
        assert event.validated() == event
        assert ", " not in event.token


def test_hostile_lines_at_the_real_manager(manager_world: ManagerWorld) -> None:
    hosts = [s.url.split("://", 1)[1].rstrip("/") for s in manager_world.cluster.servers.values()]
    url = f"{manager_world.manager.url}/?token={MANAGER_TOKEN}"
    accepted = 0
    statuses: Counter[int] = Counter()

    # One line the door must accept, whatever the strategy draws on a given day (what it
    # draws shifts with the modules loaded), so processing is always reached.
    valid = json.dumps(
        {
            "host": hosts[0],
            "method": "GET",
            "uri": "/:/scrobble?key=42&identifier=com.plexapp.plugins.library",
            "token": "fuzz-token",
            "identifier": "fuzz-client",
            "status": "200",
        }
    ).encode()

    @fuzz_settings(60)
    @example(body=valid)
    @given(
        body=bodies(legacy_lines(hosts), lists=False) | st.just(b'{"uri": "/:/timeline?time=inf"}')
    )
    def post(body: bytes) -> None:
        nonlocal accepted
        r = httpx.post(url, content=body, timeout=30)
        assert r.status_code in (200, 400), r.text
        statuses[r.status_code] += 1
        if r.status_code == 200 and "accepted" in r.json():
            accepted += r.json()["accepted"]
        if r.status_code == 200:
            assert from_legacy(loads(body)) is not None or r.json() == {"ignored": "replay"}

    post()
    manager = manager_world.manager

    def legacy_outcomes() -> tuple[list[dict[str, Any]]] | None:
        lines = [
            e
            for e in manager.logs()
            if e.get("event") in ("event", "event_crashed")
            and str(e.get("event_id", "")).startswith("legacy-")
        ]
        return (lines,) if len({e["event_id"] for e in lines}) >= accepted else None

    (outcomes,) = wait_for(legacy_outcomes, 60, "every accepted line processed")
    assert accepted > 0  # the strategy reaches processing, not only the door
    assert [
        e for e in manager.logs() if "exception" in e or e.get("event") == "event_crashed"
    ] == []
    assert {e.get("outcome") for e in outcomes} & {"error", "unreadable", None} == set()
    print(f"\nlegacy door: answers {dict(statuses)}, {accepted} lines accepted, outcomes")
    print(dict(Counter(e.get("outcome") for e in outcomes)))
