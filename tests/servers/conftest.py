"""Fixtures: a fresh emulated `demo` cluster and our clients for each of its servers."""

from __future__ import annotations

import pytest

from tests.fakeplex import Cluster


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cluster(demo_cluster: Cluster) -> Cluster:
    """The root conftest's fresh `demo` cluster, under the name these tests use."""
    return demo_cluster
