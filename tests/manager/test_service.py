"""The manager service in-process against the emulator: options and start-up edge cases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from manager.app import watch as watch_module
from manager.app.service import Service
from manager.config import Config, parse_config
from manager.event import PlaybackEvent
from tests.fakeplex import Cluster


def config_for(cluster: Cluster, tmp_path: Path, **extra: Any) -> Config:
    data = {
        "servers": [
            {"name": s.name, "url": s.url, "token": s.owner_token} for s in cluster.servers.values()
        ],
        "token": "t0ken",
        "listen": "127.0.0.1:0",
        "database": f"sqlite:///{tmp_path / 'manager.db'}",
        "plextv_url": cluster.plextv_url,
        "delivery": {"base_backoff": 0.05, "max_backoff": 0.2},
        **extra,
    }
    return parse_config(data, "test.yml", {})


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def scrobble(cluster: Cluster, user: str, catalog: str) -> PlaybackEvent:
    alpha = cluster.servers["alpha"]
    return PlaybackEvent(
        kind="scrobble",
        rating_key=alpha.find_key(catalog=catalog),
        token=cluster.token_for(user, "alpha"),
        upstream_url=alpha.url,
        machine_identifier=alpha.machine_identifier,
    )


def played(cluster: Cluster, server: str, user: str, catalog: str) -> bool:
    srv = cluster.servers[server]
    return bool(srv.state(user, srv.find_key(catalog=catalog))["view_count"])


def test_same_library_name_only_keeps_the_original_rule(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    cfg = config_for(demo_cluster, tmp_path, same_library_name_only=True)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            outcome = await svc.runtime.handler.handle(scrobble(demo_cluster, "admin", "matrix"))
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
    cfg = config_for(demo_cluster, tmp_path)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            status = await svc.status()
            assert [s["reachable"] for s in status["servers"]] == [True, True, False]
            await svc.accept([scrobble(demo_cluster, "alice", "inception")])
            await until(lambda: played(demo_cluster, "beta", "alice", "inception"))
            gamma.come_up()
            gamma_server = svc.runtime.servers[2]
            await until(lambda: bool(gamma_server.reachable and gamma_server.index.built_at))
            await svc.accept([scrobble(demo_cluster, "alice", "matrix")])
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
    cfg = config_for(demo_cluster, tmp_path, delivery={"base_backoff": 60, "max_backoff": 120})
    beta = demo_cluster.servers["beta"]

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            beta.go_down()
            await svc.accept([scrobble(demo_cluster, "bob", "amelie")])
            await until(lambda: svc.runtime.servers[1].reachable is False)
            beta.come_up()
            await until(lambda: played(demo_cluster, "beta", "bob", "amelie"), timeout=20)
        finally:
            await svc.stop()

    asyncio.run(main())


def test_service_on_postgresql(
    demo_cluster: Cluster, tmp_path: Path, clean_postgres_dsn: str
) -> None:
    cfg = config_for(demo_cluster, tmp_path, database=clean_postgres_dsn)

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            event = scrobble(demo_cluster, "kid", "arrival")
            first = await svc.accept([event])
            again = await svc.accept([event])
            assert (first.accepted, again.duplicates) == (1, 1)
            await until(lambda: played(demo_cluster, "beta", "kid", "arrival"))
        finally:
            await svc.stop()

    asyncio.run(main())
