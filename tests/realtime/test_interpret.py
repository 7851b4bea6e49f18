"""What an event means before any server is asked: which server it comes from, what changed."""

from __future__ import annotations

import httpx
import pytest

from manager.config import parse_config
from manager.event import PlaybackEvent
from manager.realtime.interpret import decide, source_of
from manager.servers import kinds
from manager.servers.index import LibraryIndex
from manager.servers.models import Credential, StopRules
from manager.servers.server import Server


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


JELLYFIN = StopRules()  # under 5 % no resume point, past 90 % played, under 300 s short
HOUR = 3_600_000


@pytest.mark.parametrize(
    ("event", "duration", "change", "time_ms"),
    [
        (ev("timeline", "stopped", 2 * 60_000), HOUR, None, None),  # 3 %: dropped there
        (ev("timeline", "stopped", 6 * 60_000), HOUR, "resume", 6 * 60_000),
        (ev("timeline", "stopped", 55 * 60_000), HOUR, "played", None),  # 92 %
        (ev("timeline", "stopped", 60_000), 240_000, "played", None),  # short item, 25 %
        (ev("timeline", "stopped", 5_000), 240_000, None, None),  # short item, 2 %
        # Progress reports too (Jellyfin applies the rules to them); a user-data write stands.
        (ev("timeline", "paused", 2 * 60_000), HOUR, None, None),
        (ev("timeline", "playing", 56 * 60_000), HOUR, "played", None),
        (ev("timeline", "playing", 60_000), 240_000, "resume", 60_000),  # short, still playing
        (ev("progress", None, 2 * 60_000), HOUR, "resume", 2 * 60_000),
        (ev("timeline", "stopped", 2 * 60_000), None, "resume", 2 * 60_000),  # no duration
    ],
)
def test_a_stop_means_what_the_source_server_made_of_it(
    event: PlaybackEvent, duration: int | None, change: str | None, time_ms: int | None
) -> None:
    d = decide(event, duration, 0.9, JELLYFIN)
    assert (d.change, d.time_ms) == (change, time_ms)


def test_without_rules_of_its_own_a_stop_is_the_position_it_says() -> None:
    """Plex: 3 % of an hour is a resume point, 25 % of a short item too."""
    assert decide(ev("timeline", "stopped", 2 * 60_000), HOUR, 0.9).change == "resume"
    assert decide(ev("timeline", "stopped", 60_000), 240_000, 0.9).change == "resume"


def test_source_by_machine_id_then_url_then_alias() -> None:
    cfg = parse_config(
        {
            "token": "t",
            "servers": [
                {"name": "home", "url": "http://192.0.2.10:32400", "token": "a",
                 "aliases": ["plex-home.example:32401", "plex-home.example"]},
                {"name": "remote", "url": "https://192.0.2.20:32400", "token": "b"},
                # Basic auth for a reverse proxy in front of it: proxies report no user.
                {"name": "guarded", "url": "https://bob:pw@192.0.2.30:32400", "token": "c"},
            ],
        },
        "cfg.yml",
        {},
    )  # fmt: skip
    http = httpx.AsyncClient()  # never used: nothing here talks to a server
    servers = []
    for s in cfg.servers:
        api = kinds.media_server(s, http, "test-client")
        servers.append(Server(s, api, LibraryIndex(api, Credential(s.token))))
    servers[1].server_id = "remote-machine-id"

    def source(url: str, machine: str | None = None) -> str | None:
        event = PlaybackEvent(
            kind="scrobble", rating_key="1", token="t", upstream_url=url,
            machine_identifier=machine,
        )  # fmt: skip
        found = source_of(event, servers)
        return found.name if found else None

    assert source("http://10.9.9.9:1", "remote-machine-id") == "remote"
    assert source("http://192.0.2.10:32400") == "home"
    assert source("https://192.0.2.20:32400/") == "remote"
    assert source("https://plex-home.example:32401") == "home"  # legacy payload's Host
    assert source("https://plex-home.example:443") == "home"  # alias without a port
    assert source("https://elsewhere.example:32401") is None
    assert source("https://192.0.2.30:32400") == "guarded"
