"""The delivery loop against a real HTTP receiver, without mitmproxy in between."""

from __future__ import annotations

from pathlib import Path

from addons.config import Settings
from addons.delivery import Delivery
from addons.spool import Spool
from manager.event import PlaybackEvent
from tests.proxy.harness import MediaUpstream, Receiver, wait_for


def _settings(tmp_path: Path, manager: str) -> Settings:
    return Settings(
        manager_url=manager,
        manager_token="s3cret-bearer",
        data_dir=tmp_path,
        server_name="home",
        spool_max=100,
        retry_max=1.0,
        stream_threshold=1024,
        forwarded_for="replace",
        http2=False,
        log_level="info",
        log_format="text",
    )


def _event(upstream: str, rk: str) -> PlaybackEvent:
    return PlaybackEvent(kind="scrobble", rating_key=rk, token="tok", upstream_url=upstream)


def test_posts_one_event_per_request_with_bearer_and_machine_id(
    tmp_path: Path, fresh_receiver: Receiver, media: MediaUpstream
) -> None:
    spool = Spool(tmp_path)
    events = [_event(media.url, str(i)) for i in range(3)]
    for e in events:
        spool.put(e)
    delivery = Delivery(spool, _settings(tmp_path, fresh_receiver.url + "/"))
    delivery.start()
    try:
        wait_for(lambda: len(fresh_receiver.received) >= 3)
        wait_for(lambda: spool.count() == 0)
    finally:
        delivery.stop()
    assert [r.path for r in fresh_receiver.received] == ["/api/v1/events"] * 3
    assert all(
        r.headers["Authorization"] == "Bearer s3cret-bearer" for r in fresh_receiver.received
    )
    assert all(r.headers["Content-Type"] == "application/json" for r in fresh_receiver.received)
    got = [PlaybackEvent.from_dict(r.body) for r in fresh_receiver.received]
    assert [g.id for g in got] == [e.id for e in events]
    assert {g.machine_identifier for g in got} == {MediaUpstream.MACHINE_ID}


def test_malformed_is_dropped_but_auth_errors_are_retried(
    tmp_path: Path, fresh_receiver: Receiver, media: MediaUpstream
) -> None:
    spool = Spool(tmp_path)
    spool.put(_event(media.url, "1"))
    fresh_receiver.status = 401  # wrong secret: a human fixes it, the event must wait
    delivery = Delivery(spool, _settings(tmp_path, fresh_receiver.url))
    delivery.start()
    try:
        wait_for(lambda: len(fresh_receiver.received) >= 2)  # retried
        assert spool.count() == 1
        fresh_receiver.status = 422  # the manager calls it malformed: it will never succeed
        wait_for(lambda: spool.count() == 0)
        fresh_receiver.status = 200
        fresh_receiver.clear()
        spool.put(_event(media.url, "2"))
        delivery.wake()
        wait_for(lambda: spool.count() == 0 and len(fresh_receiver.received) == 1)
        assert fresh_receiver.events()[0]["rating_key"] == "2"
    finally:
        delivery.stop()


def test_a_damaged_spool_row_is_dropped_and_the_rest_delivered(
    tmp_path: Path, fresh_receiver: Receiver, media: MediaUpstream
) -> None:
    spool = Spool(tmp_path)
    spool.put(_event(media.url, "1"))
    spool.put(_event(media.url, "2"))
    first = spool.peek(1)[0]
    spool.Row.update(body="{not json").where(spool.Row.seq == first.seq).execute()
    delivery = Delivery(spool, _settings(tmp_path, fresh_receiver.url))
    delivery.start()
    try:
        wait_for(lambda: spool.count() == 0)
    finally:
        delivery.stop()
    assert [e["rating_key"] for e in fresh_receiver.events()] == ["2"]
