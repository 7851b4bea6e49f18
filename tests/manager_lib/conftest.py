"""Fixtures: a fresh emulated `demo` cluster and our clients for each of its servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplex import Cluster, start_cluster


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = start_cluster("demo")
    try:
        yield c
    finally:
        c.stop()
