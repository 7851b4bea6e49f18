"""The dashboard's memory of recent work (activity.py), fed as the handler and the outbox
feed it: outcomes as people read them, filters, the bounds, and items a peer lacks."""

from __future__ import annotations

from typing import Any

from manager.app.dashboard import activity as activity_module
from manager.app.dashboard.activity import Activity
from manager.event import PlaybackEvent
from manager.model import Change, ItemKey, Outcome, UserId
from manager.realtime.handler import Handled
from manager.store.outbox import Attempt, Result, Verdict, Write

KEYS = (ItemKey("movie:imdb://tt1375666"), ItemKey("movie:tmdb://27205"))


def handled(
    outcome: Outcome, event_id: str = "e1", absent: tuple[str, ...] = (), **fields: Any
) -> Handled:
    event = PlaybackEvent(
        kind="scrobble", rating_key="101", token="secret-token-value",
        upstream_url="http://127.0.0.1:1", id=event_id, proxy_name="front",
    )  # fmt: skip
    info = {"source": "plex", "user": "alice", "title": "Inception", "change": "played", **fields}
    return Handled(event, outcome, info, KEYS, absent)


def attempt(peer: str, origin: str = "event", change: Change = Change.PLAYED) -> Attempt:
    write = Write(
        peer=peer, user_id=UserId("2002"), identity_key=KEYS[0], change=change, item_id="7",
        observed_at=0.0, user_name="alice", title="Inception", origin=origin, event_id="e1",
        time_ms=1_200_000,
    )  # fmt: skip
    return Attempt(row_id=1, version=1, attempts=0, write=write)


def test_events_and_writes_read_as_people_say_them() -> None:
    seen = Activity(clock=iter(range(100, 200)).__next__)
    seen.on_event(handled(Outcome.QUEUED, absent=("emby",), peers="jelly"))
    seen.on_write(attempt("jelly"), Result(Verdict.DELIVERED))
    seen.on_write(attempt("jelly"), Result(Verdict.SKIPPED, "already holds"))
    seen.on_write(attempt("jelly"), Result(Verdict.DEFERRED, "user is playing it there now"))
    seen.on_write(attempt("jelly"), Result(Verdict.DROP, "404 on peer: X-Plex-Token=abcdefgh"))
    labels = [e.label for e in seen.entries()]
    assert labels == ["failed", "skipped: playing", "skipped: already holds", "applied", "queued"]
    event = seen.entries()[-1]
    assert event.detail == "to jelly; not found on emby" and event.source == "plex"
    write = seen.entries()[0]
    assert write.source == "plex" and write.peer == "jelly"  # named from its event
    assert "abcdefgh" not in write.detail  # reasons pass the redaction
    assert seen.last_event["plex"].via == "proxy front"
    assert seen.ways == {"plex": {"proxy"}}


def test_heartbeats_are_counted_not_listed_and_no_match_says_why() -> None:
    seen = Activity()
    seen.on_event(handled(Outcome.THROTTLED))
    seen.on_event(handled(Outcome.UNCHANGED))
    seen.on_event(handled(Outcome.UNKNOWN_ITEM))
    assert seen.quiet == 2
    (entry,) = seen.entries()
    assert entry.label == "no match" and "not in the source's library" in entry.detail


def test_filters_by_user_server_and_origin() -> None:
    seen = Activity()
    seen.on_event(handled(Outcome.QUEUED, peers="jelly"))
    seen.on_write(attempt("jelly"), Result(Verdict.DELIVERED))
    seen.on_write(attempt("emby", origin="sync"), Result(Verdict.DELIVERED))
    assert len(seen.entries(user="ALICE")) == 3
    assert seen.entries(user="bob") == []
    assert [e.peer for e in seen.entries(server="emby")] == ["emby"]
    assert len(seen.entries(server="plex")) == 2  # the event and its write
    assert [e.source for e in seen.entries(origin="sync")] == ["full sync"]
    assert len(seen.entries(origin="realtime")) == 2
    assert seen.users_seen() == ["alice"]


def test_a_big_sync_does_not_push_real_time_lines_out() -> None:
    seen = Activity()
    seen.on_event(handled(Outcome.QUEUED, peers="jelly"))
    for _ in range(activity_module.SYNC_KEPT * 3):
        seen.on_write(attempt("emby", origin="sync"), Result(Verdict.DELIVERED))
    assert len(seen.sync) == activity_module.SYNC_KEPT
    assert len(seen.entries(origin="realtime")) == 1


def test_missing_items_are_kept_once_and_forgotten_when_found() -> None:
    seen = Activity()
    for _ in range(3):
        seen.on_event(handled(Outcome.NO_PEERS, absent=("emby", "jelly")))
    items = seen.missing_items()
    assert {m.peer for m in items} == {"emby", "jelly"}
    assert all(m.times == 3 and m.keys == KEYS for m in items)
    seen.on_event(handled(Outcome.QUEUED, absent=("emby",), peers="jelly"))
    assert [m.peer for m in seen.missing_items()] == ["emby"]
