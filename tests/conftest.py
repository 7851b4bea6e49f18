"""Shared pytest fixtures. `demo_cluster`: a freshly started `demo` emulator cluster per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplex import Cluster, start_cluster


@pytest.fixture
def demo_cluster() -> Iterator[Cluster]:
    with start_cluster("demo") as cluster:
        yield cluster
