"""Full sync inside `serve`: at start (sync.on_start / UPDATE_ON_START), one at a time, and
real-time events keep flowing while it runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from manager.app.service import Service
from manager.app.syncs import run_sync
from manager.event import PlaybackEvent
from manager.store.db import MetaRow
from manager.store.lease import LEASE_KEY
from tests.fakeplex import Cluster
from tests.fullsync.test_fullsync import assert_expected, diverge
from tests.support.configs import MANAGER_TOKEN, manager_config, write_config
from tests.support.live_cluster import ManagerProcess
from tests.support.polling import wait_for
from tests.support.processes import free_port
from tests.support.state import seen


def _converged(cluster: Cluster) -> bool:
    try:
        assert_expected(cluster)
    except AssertionError:
        return False
    return True


def test_serve_syncs_at_start(demo_cluster: Cluster, tmp_path: Path) -> None:
    diverge(demo_cluster)
    port = free_port()
    config = write_config(demo_cluster, tmp_path, port, sync={"on_start": True})
    manager = ManagerProcess(config, tmp_path, port)
    try:
        manager.start()
        wait_for(lambda: _converged(demo_cluster), 60, "sync at start converged")
        last = wait_for(
            lambda: (
                (manager.status().get("last_sync") or {}).get("finished_at")
                and manager.status()["last_sync"]
            ),
            30,
            "last_sync in status",
        )
        assert last["ok"] is True
        summary = last["summary"]
        summary = json.loads(summary) if isinstance(summary, str) else summary
        assert summary["servers"]["alpha"]["watched"] == 7
        assert manager.log_lines("sync_finished")
    finally:
        manager.stop()


def test_one_sync_at_a_time_and_events_flow_during_a_sync(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    diverge(demo_cluster)
    config = manager_config(demo_cluster, tmp_path)
    alpha = demo_cluster.servers["alpha"]

    async def main() -> None:
        service = await Service.open(config)
        await service.start()
        try:
            await asyncio.wait_for(service.ready.wait(), 30)
            # beta answers slowly: the sync takes several seconds to read it.
            demo_cluster.servers["beta"].set_delay(1.0)
            first = asyncio.create_task(run_sync(service.runtime, "one"))
            for _ in range(1500):
                if await service.runtime.runner.run(MetaRow.get_or_none, MetaRow.key == LEASE_KEY):
                    break
                await asyncio.sleep(0.02)
            # A second sync while the first runs is refused, not queued.
            assert await run_sync(service.runtime, "two") is None
            assert not first.done()
            event = PlaybackEvent(
                kind="scrobble",
                rating_key=alpha.find_key(title="Heat"),
                token=demo_cluster.token_for("kid", "alpha"),
                upstream_url=alpha.url,
                machine_identifier=alpha.machine_identifier,
            )
            host, port = service.address or ("127.0.0.1", 0)
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"http://{host}:{port}/api/v1/events",
                    content=event.to_json(),
                    headers={"Authorization": f"Bearer {MANAGER_TOKEN}"},
                )
                assert r.status_code == 202
            for _ in range(1500):
                if seen(demo_cluster, "gamma", "kid", title="Heat") == (True, 0):
                    break
                await asyncio.sleep(0.02)
            assert seen(demo_cluster, "gamma", "kid", title="Heat") == (True, 0)
            # The event went through while the sync was still reading the slow server.
            assert not first.done()
            report = await first
            assert report is not None and report.ok, report
        finally:
            demo_cluster.servers["beta"].set_delay(0)
            await service.stop()

    asyncio.run(main())
    assert_expected(demo_cluster)
