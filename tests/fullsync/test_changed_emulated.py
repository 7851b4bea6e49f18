"""A sync of changes only against the emulated demo cluster, over HTTP: the changed
listing is Plex's `lastViewedAt>>=` filter, the other servers' reads are one batched
`/library/metadata/a,b` request per user and server, and the change reaches every peer."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakeplex import Cluster
from tests.fullsync.helpers import T0, clear_requests, recorded_writes, run_sync
from tests.support.configs import manager_config
from tests.support.state import seen

MIN = 60_000


def test_a_change_made_without_a_proxy_reaches_every_peer(
    demo_cluster: Cluster, tmp_path: Path
) -> None:
    config = manager_config(demo_cluster, tmp_path)
    alpha = demo_cluster.servers["alpha"]
    alpha.set_state("alice", alpha.find_key(title="The Matrix"), view_count=1, last_viewed_at=T0)
    full, _ = run_sync(config)
    assert full.ok and full.kind == "full", full.render()
    assert seen(demo_cluster, "gamma", "alice", title="The Matrix") == (True, 0)
    clear_requests(demo_cluster)

    # alice stops Inception at 20 minutes on beta, through no proxy.
    beta = demo_cluster.servers["beta"]
    inception = beta.find_key(title="Inception")
    beta.set_state("alice", inception, view_offset=20 * MIN, last_viewed_at=int(time.time()))
    changed, _ = run_sync(config, changed_only=True)
    assert changed.ok and changed.kind == "changed", changed.render()
    for name in ("alpha", "beta", "gamma"):
        assert seen(demo_cluster, name, "alice", title="Inception") == (False, 20 * MIN), name
    assert sorted((s, u, a) for s, u, a, _ in recorded_writes(demo_cluster)) == [
        ("alpha", "alice", "resume"),
        ("gamma", "alice", "resume"),
    ]
    listed = [r for r in beta.requests if r.path.endswith("/all") and "lastViewedAt>>" in r.query]
    assert listed, "beta's listings asked for changes only"
    assert all(
        "lastViewedAt>>" in r.query
        for s in demo_cluster.servers.values()
        for r in s.requests
        if r.path.endswith("/all") and r.token != s.user_tokens.get("admin")
    ), "every user's listing (not the owner's catalogue) is of changes only"
    # Alpha and gamma: one read of what changed elsewhere for alice (Inception; not The
    # Matrix, whose stamp on beta and gamma is our first run's write, no change); the only
    # other item read is the first write's stamp, which teaches us the server's clock.
    for name in ("alpha", "gamma"):
        srv = demo_cluster.servers[name]
        reads = [r.path for r in srv.requests if r.path.startswith("/library/metadata/")]
        assert f"/library/metadata/{srv.find_key(title='Inception')}" in reads, (name, reads)
        assert len(reads) == 2, (name, reads)

    again, _ = run_sync(config, changed_only=True)
    assert again.ok and again.changes == 0
