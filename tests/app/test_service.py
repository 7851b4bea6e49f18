"""The manager service in-process against the emulator: options and start-up edge cases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from manager.app import watch as watch_module
from manager.app.service import Service
from tests.fakeplex import Cluster
from tests.support.configs import manager_config
from tests.support.events import event_for
from tests.support.polling import until
from tests.support.state import played


def test_same_library_name_only_keeps_the_original_rule(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    cfg = manager_config(demo_cluster, tmp_path, same_library_name_only=True)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            outcome = await svc.runtime.handler.handle(event_for(demo_cluster, "admin", "matrix"))
            assert outcome == "queued"
            await until(lambda: played(demo_cluster, "beta", "admin", "matrix"))
            assert await svc.runtime.outbox.wait_idle(10)
        finally:
            await svc.stop()

    asyncio.run(main())
    # gamma calls its library "Films", alpha "Movies": the original rule skips it.
    assert not played(demo_cluster, "gamma", "admin", "matrix")


def test_server_down_at_start_joins_when_it_comes_up(
    demo_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "PROBE_INTERVAL_DOWN", 0.2)
    gamma = demo_cluster.servers["gamma"]
    gamma.go_down()
    cfg = manager_config(demo_cluster, tmp_path)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            status = await svc.status()
            assert [s["reachable"] for s in status["servers"]] == [True, True, False]
            await svc.accept([event_for(demo_cluster, "alice", "inception")])
            await until(lambda: played(demo_cluster, "beta", "alice", "inception"))
            gamma.come_up()
            gamma_server = svc.runtime.servers[2]
            await until(lambda: bool(gamma_server.reachable and gamma_server.index.built_at))
            await svc.accept([event_for(demo_cluster, "alice", "matrix")])
            await until(lambda: played(demo_cluster, "gamma", "alice", "matrix"))
            status = await svc.status()
            assert [s["reachable"] for s in status["servers"]] == [True, True, True]
        finally:
            await svc.stop()

    asyncio.run(main())


def test_writes_for_a_peer_go_out_as_soon_as_it_is_back(
    demo_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Backoff far longer than the wait below: only the probe noticing beta is back can
    # deliver the write in time.
    monkeypatch.setattr(watch_module, "PROBE_INTERVAL_DOWN", 0.2)
    cfg = manager_config(demo_cluster, tmp_path, delivery={"base_backoff": 60, "max_backoff": 120})
    beta = demo_cluster.servers["beta"]

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            beta.go_down()
            await svc.accept([event_for(demo_cluster, "bob", "amelie")])
            await until(lambda: svc.runtime.servers[1].reachable is False)
            beta.come_up()
            await until(lambda: played(demo_cluster, "beta", "bob", "amelie"), timeout=20)
        finally:
            await svc.stop()

    asyncio.run(main())


def test_service_on_postgresql(
    demo_cluster: Cluster, tmp_path: Path, clean_postgres_dsn: str
) -> None:
    cfg = manager_config(demo_cluster, tmp_path, database=clean_postgres_dsn)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            event = event_for(demo_cluster, "kid", "arrival")
            first = await svc.accept([event])
            again = await svc.accept([event])
            assert (first.accepted, again.duplicates) == (1, 1)
            await until(lambda: played(demo_cluster, "beta", "kid", "arrival"))
        finally:
            await svc.stop()

    asyncio.run(main())
