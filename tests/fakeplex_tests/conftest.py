"""Fixtures of the emulator's own tests (demo_cluster itself is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakeplex import Cluster, FakeServer


@pytest.fixture
def alpha(demo_cluster: Cluster) -> FakeServer:
    return demo_cluster.servers["alpha"]
