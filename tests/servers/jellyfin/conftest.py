"""Fixtures: the `mixed` emulated world (a Plex, a Jellyfin and an Emby server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplex import Cluster, start_cluster


@pytest.fixture
def mixed() -> Iterator[Cluster]:
    with start_cluster("mixed") as cluster:
        yield cluster
