"""The full sync driven through the media-server interface alone: fake servers in memory,
a real SQLite ledger and outbox, the real writer. No HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from manager.config import Config, DeliveryConfig
from manager.fullsync import engine
from manager.fullsync.catalog import Catalog
from manager.fullsync.engine import FullSync, SyncOptions
from manager.fullsync.group import Groups, build_groups
from manager.fullsync.plan import UserView, plan_user
from manager.fullsync.report import SyncReport
from manager.realtime.writer import PeerWriter
from manager.servers.models import Credential
from manager.store.outbox import Outbox
from manager.store.runner import DbRunner
from tests.support.fake_server import FakeCluster, fake_cluster

FAST = DeliveryConfig(concurrency=4, per_peer=2, base_backoff=0.01, max_backoff=0.05, timeout=1)
T1, T2 = 1_700_000_100, 1_700_000_200


def sync(cluster: FakeCluster, tmp_path: Path, **options: object) -> SyncReport:
    async def main() -> SyncReport:
        runner = DbRunner(f"sqlite:///{tmp_path / 'manager.db'}")
        cfg = Config(path="fake", servers=tuple(s.config for s in cluster.servers), token="t")
        writer = PeerWriter(cluster.servers, cluster.directory, runner)
        outbox = Outbox(runner, writer.deliver, FAST)
        outbox.start()
        try:
            readers = [s.api for s in cluster.servers]
            run = FullSync(
                cfg, runner, cluster.servers, cluster.directory, outbox, readers,
                SyncOptions(**options),  # type: ignore[arg-type]
            )  # fmt: skip
            return await run.run()
        finally:
            await outbox.stop()
            runner.close()

    return asyncio.run(main())


def test_every_user_converges_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    cluster = fake_cluster()
    alpha, beta, gamma = (cluster.api(n) for n in ("alpha", "beta", "gamma"))
    # alice watched Heat on alpha; bob stopped Jaws at 20 min on beta; admin watched all
    # of Fargo on gamma; alice unwatched nothing anywhere.
    alpha.clock = lambda: T1
    alpha.resume("alice", alpha.find("Heat"), 5_900_000)
    beta.clock = lambda: T2
    beta.resume("bob", beta.find("Jaws"), 1_200_000)
    gamma.clock = lambda: T1
    for episode in (i for i in gamma.library.values() if i.kind == "episode"):
        gamma.resume("admin", episode.id, 2_300_000)

    report = sync(cluster, tmp_path)
    assert report.ok, report.render()
    for api in (alpha, beta, gamma):
        assert api.seen("alice", api.find("Heat")) == (True, 0), api.name
        episodes = [i.id for i in api.library.values() if i.kind == "episode"]
        assert all(api.seen("admin", e) == (True, 0) for e in episodes), api.name
    assert alpha.seen("bob", alpha.find("Jaws")) == (False, 1_200_000)
    assert all(w[0] != "bob" for w in gamma.writes)  # bob cannot use gamma
    # Two or more episodes that leave the whole show watched become one show-level mark.
    assert ("admin", "played", alpha.find("Fargo"), None) in alpha.writes

    written = {api.name: len(api.writes) for api in (alpha, beta, gamma)}
    again = sync(cluster, tmp_path)
    assert again.ok and again.changes == 0
    assert {api.name: len(api.writes) for api in (alpha, beta, gamma)} == written


def test_a_server_that_cannot_be_read_is_reported_and_the_others_still_sync(
    tmp_path: Path,
) -> None:
    cluster = fake_cluster()
    alpha, gamma = cluster.api("alpha"), cluster.api("gamma")
    alpha.resume("alice", alpha.find("Casablanca"), 5_900_000)
    gamma.down = True
    report = sync(cluster, tmp_path)
    assert not report.ok and report.server("gamma").failed
    beta = cluster.api("beta")
    assert beta.seen("alice", beta.find("Casablanca")) == (True, 0)
    assert gamma.writes == []


def test_a_sync_write_reads_the_item_once_after_writing_not_before(tmp_path: Path) -> None:
    # The run has just read alice's state on beta; the writer uses that read, and reads
    # the item only for the stamp its write left.
    cluster = fake_cluster()
    alpha, beta = cluster.api("alpha"), cluster.api("beta")
    alpha.mark("alice", alpha.find("Heat"), True)
    report = sync(cluster, tmp_path)
    assert report.ok, report.render()
    heat = beta.find("Heat")
    assert beta.writes == [("alice", "played", heat, None)]
    assert beta.item_reads == [("alice", heat)]


def test_items_are_grouped_sharing_their_keys_without_the_table_that_shared_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 100 000 items per server the sharing table is as large as the group index:
    # holding both at once was the run's peak of memory.
    seen: list[tuple[list[int], bool]] = []

    def watch(catalogs: Sequence[Catalog]) -> Groups:
        heats = [next(i for i in c.items.values() if i.title == "Heat") for c in catalogs]
        shared = all(h.keys and h.keys[0] is heats[0].keys[0] for h in heats)
        seen.append(([len(c.strings) + len(c.numbers) for c in catalogs], shared))
        return build_groups(catalogs)

    monkeypatch.setattr(engine, "build_groups", watch)
    report = sync(fake_cluster(), tmp_path)
    assert report.ok, report.render()
    assert seen == [([0, 0, 0], True)]


def _asked_when_planned(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[set[str]], list[tuple[str, set[str]]]]:
    """Whose listings the servers had been asked for when the items were grouped, and
    when each user was planned."""
    asked: list[str] = []
    for server in cluster.servers:
        api = cluster.api(server.name)

        async def libraries(credential: Credential, listed: Any = api.libraries) -> Any:
            asked.append(credential.secret.partition("@")[0])
            return await listed(credential)

        monkeypatch.setattr(api, "libraries", libraries)
    at_grouping: list[set[str]] = []

    def group(catalogs: Sequence[Catalog]) -> Groups:
        time.sleep(0.05)  # on its thread: a read going on meanwhile would be seen
        at_grouping.append(set(asked))
        return build_groups(catalogs)

    at_plan: list[tuple[str, set[str]]] = []

    def plan(view: UserView, *args: Any, **kwargs: Any) -> Any:
        at_plan.append((view.user_name, set(asked)))
        return plan_user(view, *args, **kwargs)

    monkeypatch.setattr(engine, "build_groups", group)
    monkeypatch.setattr(engine, "plan_user", plan)
    report = sync(cluster, tmp_path)
    assert report.ok, report.render()
    assert [name for name, _ in at_plan] == ["admin", "alice", "bob", "kid"]
    return at_grouping, at_plan


def test_the_next_users_listing_is_read_while_a_user_is_planned_after_a_small_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The servers make a listing's pages while the manager plans the user before: reading
    # and planning took turns, and the servers waited meanwhile.
    at_grouping, at_plan = _asked_when_planned(fake_cluster(), tmp_path, monkeypatch)
    assert at_grouping == [{"admin"}]  # the owner's listing is the catalogue
    assert "alice" not in at_plan[0][1]  # nobody was planned before the owner
    for (_, seen), following in zip(at_plan[1:], ["bob", "kid"], strict=False):
        assert following in seen


def test_after_a_large_plan_the_next_listing_waits_until_the_plan_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large plan and a listing's pages at once were a peak of memory at 100 000 items.
    monkeypatch.setattr(engine, "SMALL_PLAN", 0)  # every plan counts as large
    _, at_plan = _asked_when_planned(fake_cluster(), tmp_path, monkeypatch)
    for (_, seen), following in zip(at_plan, ["alice", "bob", "kid"], strict=False):
        assert following not in seen
