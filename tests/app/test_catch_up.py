"""A peer that was down when the manager started catches up once it answers (real processes).

While gamma is down its library index cannot be read, so events skip it; the ledger keeps
the changes and, when gamma answers again, a full sync limited to writes on gamma and to
the users concerned brings it up to date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from plexapi.server import PlexServer

from manager.app import watch as watch_module
from manager.app.service import Service
from manager.store import lease
from tests.fakeplex import Cluster, start_cluster
from tests.support.configs import manager_config, write_config
from tests.support.events import event_for
from tests.support.live_cluster import (
    PROXY_READY_TIMEOUT,
    ManagerProcess,
    addon_available,
    cluster_proxy,
)
from tests.support.polling import until, wait_for
from tests.support.processes import MitmdumpProcess, free_port
from tests.support.state import played, raw_state

pytestmark = pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree")

RESUME_MS = 1_200_000  # 20 min: PMS ignores resume points under 60 s


@pytest.fixture
def gamma_down_at_start(
    tmp_path: Path,
) -> Iterator[tuple[Cluster, ManagerProcess, MitmdumpProcess]]:
    with start_cluster("demo") as cluster:
        cluster.servers["gamma"].go_down()
        port = free_port()
        manager = ManagerProcess(write_config(cluster, tmp_path, port), tmp_path, port)
        # Only alpha's clients are used here: one proxy is enough (and quicker to start).
        proxy = cluster_proxy(cluster.servers["alpha"].url, manager.url, tmp_path / "proxy")
        try:
            proxy.start(wait=False)
            manager.start()
            proxy.wait_ready(PROXY_READY_TIMEOUT)
            yield cluster, manager, proxy
        finally:
            manager.stop()
            proxy.stop()


def test_peer_down_at_start_catches_up_when_it_answers(
    gamma_down_at_start: tuple[Cluster, ManagerProcess, MitmdumpProcess],
) -> None:
    cluster, manager, proxy = gamma_down_at_start
    status = manager.status()
    assert {s["name"]: s["reachable"] for s in status["servers"]}["gamma"] is False

    def state(server: str, user: str, catalog: str) -> dict[str, int]:
        return raw_state(cluster, server, user, catalog=catalog)

    alpha = cluster.servers["alpha"]
    plex = PlexServer(proxy.url, cluster.token_for("alice", "alpha"))
    plex.fetchItem(int(alpha.find_key(catalog="matrix"))).markPlayed()
    inception = plex.fetchItem(int(alpha.find_key(catalog="inception")))
    inception.updateTimeline(RESUME_MS, "stopped", inception.duration)

    wait_for(lambda: state("beta", "alice", "matrix")["view_count"] == 1, what="beta played")
    wait_for(
        lambda: state("beta", "alice", "inception")["view_offset"] == RESUME_MS,
        what="beta resume point",
    )

    # Both events were handled while gamma was down: it was skipped for each of them.
    def skipped_gamma() -> set[str]:
        lines = manager.log_lines("event", user="alice", not_on="gamma")
        return {str(line.get("title")) for line in lines}

    wait_for(lambda: skipped_gamma() == {"The Matrix", "Inception"}, what="gamma skipped")
    assert state("gamma", "alice", "matrix")["view_count"] == 0

    cluster.servers["gamma"].come_up()
    wait_for(
        lambda: state("gamma", "alice", "matrix")["view_count"] == 1,
        timeout=60,
        what="gamma caught up (played)",
    )
    wait_for(
        lambda: state("gamma", "alice", "inception")["view_offset"] == RESUME_MS,
        timeout=60,
        what="gamma caught up (resume point)",
    )
    finished = wait_for(
        lambda: manager.log_lines("catch_up_finished", server="gamma"), what="catch-up summary"
    )
    assert finished[0]["ok"] is True and finished[0]["users"] == "alice"
    assert manager.log_lines("catch_up_started", server="gamma", users="alice")
    # Only alice, only gamma: nobody else's state moved anywhere.
    for server, users in (("gamma", ("admin", "kid")), ("beta", ("admin", "bob", "kid"))):
        for user in users:
            for catalog in ("matrix", "inception"):
                assert state(server, user, catalog)["view_count"] == 0, (server, user, catalog)
                assert state(server, user, catalog)["view_offset"] == 0, (server, user, catalog)
    assert state("alpha", "admin", "matrix")["view_count"] == 0


def test_catch_up_waits_for_a_running_sync(
    demo_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process (real emulator, real SQLite): while another process holds the full-sync
    lease, the catch-up waits; it runs once the lease is released."""
    monkeypatch.setattr(watch_module, "PROBE_INTERVAL_DOWN", 0.2)
    gamma = demo_cluster.servers["gamma"]
    gamma.go_down()
    cfg = manager_config(demo_cluster, tmp_path)
    other_sync = "another-process"

    async def main() -> None:
        svc = await Service.open(cfg)
        await svc.start()
        try:
            await svc.ready.wait()
            runner = svc.runtime.runner
            peer = next(s for s in svc.runtime.servers if s.name == "gamma")
            await svc.accept([event_for(demo_cluster, "alice", "matrix")])
            await until(lambda: played(demo_cluster, "beta", "alice", "matrix"))
            assert peer.catch_up_users == {"2002"}
            assert await runner.run(lease.acquire, other_sync, 600.0) is None
            gamma.come_up()
            await until(lambda: svc.watch.catch_up_waiting)
            assert peer.index.built_at is not None
            assert not played(demo_cluster, "gamma", "alice", "matrix")
            assert peer.catch_up_users == {"2002"}
            await runner.run(lease.release, other_sync)
            await until(lambda: played(demo_cluster, "gamma", "alice", "matrix"))
            await until(lambda: not peer.catch_up_users)
            assert not svc.watch.catch_up_waiting
            assert not played(demo_cluster, "gamma", "kid", "matrix")
            assert not played(demo_cluster, "gamma", "admin", "matrix")
        finally:
            await svc.stop()

    asyncio.run(main())
