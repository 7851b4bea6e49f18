"""End to end in the original's layout: the manager reaches every server through its
proxy, so each of our writes passes a proxy again and must not come back as a new event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.world import World, running_world
from tests.support.live_cluster import addon_available
from tests.support.polling import wait_for

pytestmark = pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree")


@pytest.fixture(scope="module")
def through_proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("e2e-loop"), manager_via_proxies=True) as world:
        yield world


def test_replayed_writes_are_not_reported_again(through_proxies: World) -> None:
    world = through_proxies
    movie = world.plex("alice").fetchItem(int(world.key("alpha", "inception")))
    movie.markPlayed()
    for server in ("beta", "gamma"):
        wait_for(lambda s=server: world.state(s, "alice", "inception")["view_count"] == 1)
    # Each proxy delivers in order: once a later request through beta's and gamma's proxies
    # has reached the manager, an echo of our writes would have reached it before.
    for server in ("beta", "gamma"):
        later = world.plex("bob" if server == "beta" else "kid", server)
        later.fetchItem(int(world.key(server, "matrix"))).markPlayed()
        wait_for(
            lambda s=server: [
                line
                for line in world.manager.log_lines("event", title="The Matrix")
                if line.get("source") == s
            ],
            what=f"marker event from {server}",
        )
    events = world.manager.log_lines("event", title="Inception")
    assert [(e["source"], e["outcome"]) for e in events] == [("alpha", "queued")]
    assert world.state("alpha", "alice", "inception")["view_count"] == 1
