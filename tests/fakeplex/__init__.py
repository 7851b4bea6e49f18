"""Plex Media Server + plex.tv emulator for tests, benchmarks and the demo (docs/emulator.md)."""

from .cluster import Cluster, start_cluster
from .fixture import ClusterSpec, FixtureError, MovieSpec, ShowSpec
from .plextv import FakePlexTV
from .pms import FakeServer
from .transport import RecordedRequest

__all__ = [
    "Cluster",
    "ClusterSpec",
    "FakePlexTV",
    "FakeServer",
    "FixtureError",
    "MovieSpec",
    "RecordedRequest",
    "ShowSpec",
    "start_cluster",
]
