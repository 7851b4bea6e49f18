"""Fast end-to-end check that the demo cluster starts and answers a real client."""

from __future__ import annotations

from plexapi.server import PlexServer

from tests.fakeplex import Cluster


def test_demo_cluster_serves_plexapi(demo_cluster: Cluster) -> None:
    alpha = demo_cluster.servers["alpha"]
    plex = PlexServer(alpha.url, alpha.owner_token)
    assert plex.machineIdentifier == alpha.machine_identifier
    titles = sorted(s.title for s in plex.library.sections())
    assert titles == ["Movies", "TV Shows"]
    matrix = plex.library.section("Movies").get("The Matrix")
    assert not matrix.isPlayed
    matrix.markPlayed()
    assert demo_cluster.servers["alpha"].state("admin", matrix.ratingKey)["view_count"] == 1
