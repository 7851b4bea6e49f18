"""The real-time handler's branches, fast: fake media servers behind the interface, a real
SQLite ledger and outbox, the real writer. No HTTP, no processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from manager.config import Config, DeliveryConfig
from manager.event import PlaybackEvent
from manager.model import Outcome, UserId
from manager.realtime.handler import RealtimeHandler
from manager.realtime.writer import PeerWriter
from manager.servers.models import Session
from manager.store import outbox as outbox_module
from manager.store.outbox import Outbox
from manager.store.runner import DbRunner
from tests.support.fake_server import FakeCluster, fake_cluster

FAST = DeliveryConfig(concurrency=4, per_peer=2, base_backoff=0.01, max_backoff=0.05, timeout=1)


@dataclass
class Parts:
    cluster: FakeCluster
    handler: RealtimeHandler
    outbox: Outbox
    writer: PeerWriter

    def event(self, user: str, title: str, kind: str, server: str = "alpha", **kw: Any):
        source = self.cluster.server(server)
        return PlaybackEvent(
            kind=kind,
            rating_key=self.cluster.key(server, title),
            token=f"{user}@{server}",
            upstream_url=source.config.url,
            machine_identifier=source.server_id,
            **kw,
        )

    async def handle(self, event: PlaybackEvent) -> Outcome:
        outcome = await self.handler.handle(event)
        assert await self.outbox.wait_idle(10)
        return outcome


@asynccontextmanager
async def parts(tmp_path: Path, down: tuple[str, ...] = (), **config: Any) -> AsyncIterator[Parts]:
    """The handler's world; the servers in `down` do not answer from the start."""
    cluster = fake_cluster()
    for name in down:
        cluster.api(name).down = True
    runner = DbRunner(f"sqlite:///{tmp_path / 'manager.db'}")
    cfg = Config(path="fake", servers=tuple(s.config for s in cluster.servers), token="t", **config)
    writer = PeerWriter(cluster.servers, cluster.directory, runner)
    outbox = Outbox(runner, writer.deliver, FAST)
    handler = RealtimeHandler(cfg, cluster.servers, cluster.directory, runner, outbox)
    for server in cluster.servers:
        if server.name not in down:
            await server.index.refresh()
    outbox.start()
    try:
        yield Parts(cluster, handler, outbox, writer)
    finally:
        await outbox.stop()
        runner.close()


def run(
    tmp_path: Path,
    body: Callable[[Parts], Awaitable[None]],
    down: tuple[str, ...] = (),
    **config: Any,
) -> None:
    async def main() -> None:
        async with parts(tmp_path, down, **config) as p:
            await body(p)

    asyncio.run(main())


def test_a_mark_reaches_every_peer_the_user_may_use(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        assert await p.handle(p.event("bob", "Heat", "scrobble")) is Outcome.QUEUED
        beta, gamma = p.cluster.api("beta"), p.cluster.api("gamma")
        assert beta.seen("bob", beta.find("Heat")) == (True, 0)
        assert gamma.writes == []  # bob cannot use gamma
        gamma.resume("alice", gamma.find("Heat"), 5_900_000)  # watched there, by hand
        assert await p.handle(p.event("alice", "Heat", "unscrobble")) is Outcome.QUEUED
        assert [w[:2] for w in gamma.writes] == [("alice", "unplayed")]
        assert beta.writes == [("bob", "played", beta.find("Heat"), None)]  # alice: unplayed

    run(tmp_path, body)


def test_heartbeats_are_throttled_and_a_repeated_pause_is_unchanged(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        playing = {"state": "playing", "duration_ms": 6_000_000}
        first = p.event("alice", "Jaws", "timeline", time_ms=600_000, **playing)
        again = p.event("alice", "Jaws", "timeline", time_ms=610_000, **playing)
        assert await p.handle(first) is Outcome.QUEUED
        assert await p.handle(again) is Outcome.THROTTLED
        paused = {"state": "paused", "duration_ms": 6_000_000, "time_ms": 700_000}
        assert await p.handle(p.event("alice", "Jaws", "timeline", **paused)) is Outcome.QUEUED
        assert await p.handle(p.event("alice", "Jaws", "timeline", **paused)) is Outcome.UNCHANGED
        beta = p.cluster.api("beta")
        assert beta.seen("alice", beta.find("Jaws")) == (False, 700_000)
        assert [w[1] for w in beta.writes] == ["resume", "resume"]

    run(tmp_path, body, heartbeat_interval=60.0)


def test_past_the_threshold_only_the_first_report_marks_played(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        near_end = {"state": "playing", "duration_ms": 6_000_000, "time_ms": 5_700_000}
        assert await p.handle(p.event("alice", "Heat", "timeline", **near_end)) is Outcome.QUEUED
        later = {**near_end, "time_ms": 5_800_000}
        outcome = await p.handle(p.event("alice", "Heat", "timeline", **later))
        assert outcome is Outcome.ALREADY_PLAYED
        beta = p.cluster.api("beta")
        assert [w[1] for w in beta.writes] == ["played"]
        assert beta.state[("alice", beta.find("Heat"))].play_count == 1

    run(tmp_path, body)


def test_an_older_event_is_stale(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        now = time.time()
        assert await p.handle(p.event("alice", "Heat", "scrobble", seen_at=now)) is Outcome.QUEUED
        late = p.event("alice", "Heat", "unscrobble", seen_at=now - 60)
        assert await p.handle(late) is Outcome.STALE
        beta = p.cluster.api("beta")
        assert beta.seen("alice", beta.find("Heat")) == (True, 0)

    run(tmp_path, body)


def test_a_peer_that_cannot_be_read_is_marked_for_a_catch_up(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        assert await p.handle(p.event("alice", "Casablanca", "scrobble")) is Outcome.QUEUED
        gamma = p.cluster.server("gamma")
        assert gamma.catch_up_users == {UserId("id-alice")}
        assert p.cluster.api("gamma").writes == []
        beta = p.cluster.api("beta")
        assert beta.seen("alice", beta.find("Casablanca")) == (True, 0)

    run(tmp_path, body, down=("gamma",))


def test_who_and_what_cannot_be_told_are_refused_by_name(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        stranger = p.event("mallory", "Heat", "scrobble")
        assert await p.handle(stranger) is Outcome.UNKNOWN_USER
        elsewhere = PlaybackEvent(
            kind="scrobble", rating_key="1", token="alice@alpha", upstream_url="http://x:9"
        )
        assert await p.handle(elsewhere) is Outcome.UNKNOWN_SOURCE
        missing = PlaybackEvent(
            kind="scrobble", rating_key="999999", token="alice@alpha",
            upstream_url="http://alpha.invalid:1", machine_identifier="id-alpha",
        )  # fmt: skip
        assert await p.handle(missing) is Outcome.UNKNOWN_ITEM
        refused = p.event("alice", "Heat", "scrobble", upstream_status=401)
        assert await p.handle(refused) is Outcome.IGNORED
        assert all(p.cluster.api(n).writes == [] for n in ("beta", "gamma"))

    run(tmp_path, body)


def test_a_show_level_mark_reaches_every_episode_on_the_peers(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        assert await p.handle(p.event("alice", "Fargo", "scrobble")) is Outcome.QUEUED
        for name in ("beta", "gamma"):
            api = p.cluster.api(name)
            episodes = [i.id for i in api.library.values() if i.kind == "episode"]
            assert all(api.seen("alice", e) == (True, 0) for e in episodes), name
            assert [w[1:3] for w in api.writes] == [("played", api.find("Fargo"))]

    run(tmp_path, body)


def test_a_peer_where_the_user_plays_it_gets_what_is_true_once_they_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "DEFER_S", 0.05)

    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        jaws = beta.find("Jaws")
        beta.playing = [Session(jaws, "id-alice", "alice", "playing")]
        paused = {"state": "stopped", "duration_ms": 6_000_000, "time_ms": 900_000}
        assert await p.handler.handle(p.event("alice", "Jaws", "timeline", **paused)) is (
            Outcome.QUEUED
        )
        await asyncio.sleep(0.3)
        assert beta.writes == []  # deferred while she plays it there
        beta.playing = []
        assert await p.outbox.wait_idle(10)
        assert beta.seen("alice", jaws) == (False, 900_000)

    run(tmp_path, body)
