"""`GET /metrics` of a real manager process over the emulated mixed cluster, read with
prometheus-client's own parser: the numbers move as events are handled and writes land."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakeplex import start_cluster
from tests.support.configs import MANAGER_TOKEN, write_config
from tests.support.events import event_for
from tests.support.live_cluster import ManagerProcess
from tests.support.mixed_world import USER_MAP
from tests.support.polling import wait_for
from tests.support.processes import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(manager: ManagerProcess) -> Samples:
    r = httpx.get(
        f"{manager.url}/metrics", headers={"Authorization": f"Bearer {MANAGER_TOKEN}"}, timeout=5
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_with_events_and_writes(tmp_path: Path) -> None:
    with start_cluster("mixed") as cluster:
        port = free_port()
        config = write_config(cluster, tmp_path, port, users=USER_MAP, sync={"on_start": True})
        manager = ManagerProcess(config, tmp_path, port).start()
        try:
            assert httpx.get(f"{manager.url}/metrics", timeout=5).status_code == 401
            wait_for(lambda: manager.status()["last_sync"] is not None, 30, "sync at start")
            wait_for(lambda: manager.status()["last_sync"]["finished_at"], 30, "sync finished")
            before = scrape(manager)
            for server in ("plex", "jelly", "emby"):
                assert value(before, "plex_cluster_peer_reachable", server=server,
                             kind=cluster.kind(server)) == 1  # fmt: skip
            assert value(before, "plex_cluster_full_sync_ok") == 1
            assert ("plex_cluster_full_sync_duration_seconds", frozenset()) in before
            assert value(before, "plex_cluster_events_received_total",
                         source="proxy", kind="scrobble") == 0  # fmt: skip

            # alice scrobbles The Matrix on Plex (as her proxy reports it), then the
            # original nginx proxy's payload reports Inception.
            r = manager.post(event_for(cluster, "alice", "matrix", server="plex").to_dict())
            assert r.status_code == 202, r.text
            plex = cluster.servers["plex"]
            line = {
                "remote_addr": "127.0.0.1",
                "proxy_add_x_forwarded_for": "127.0.0.1",
                "host": plex.url.split("://", 1)[1],
                "method": "GET",
                "uri": f"/:/scrobble?key={cluster.item_id('plex', 'inception')}"
                "&identifier=com.plexapp.plugins.library",
                "token": cluster.token_for("alice", "plex"),
                "identifier": "legacy-client",
                "status": "200",
            }
            r = httpx.post(f"{manager.url}/", params={"token": MANAGER_TOKEN}, json=line)
            assert r.status_code == 200, r.text
            wait_for(
                lambda: (
                    cluster.state("jelly", "alice", "matrix")["played"]
                    and cluster.state("emby", "alice", "matrix")["played"]
                    and cluster.state("jelly", "alice", "inception")["played"]
                ),
                20,
                "writes delivered",
            )
            wait_for(lambda: manager.status()["queue"]["writes"] == 0, 20, "outbox drained")

            after = scrape(manager)
            assert value(after, "plex_cluster_events_received_total",
                         source="proxy", kind="scrobble") == 1  # fmt: skip
            assert value(after, "plex_cluster_events_received_total",
                         source="legacy", kind="scrobble") == 1  # fmt: skip
            assert value(after, "plex_cluster_events_handled") >= 2
            for peer in ("jelly", "emby"):
                delivered = value(after, "plex_cluster_writes_total", peer=peer,
                                  outcome="delivered")  # fmt: skip
                assert delivered >= 1, peer
                assert value(after, "plex_cluster_write_request_seconds_count", peer=peer) >= 1
                assert value(after, "plex_cluster_outbox_depth", peer=peer) == 0
            lag = value(after, "plex_cluster_write_lag_seconds_count", origin="event")
            assert lag >= 3
            assert value(after, "plex_cluster_write_lag_seconds_bucket", origin="event",
                         le="+Inf") == lag  # fmt: skip
        finally:
            manager.stop()
