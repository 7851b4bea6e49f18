"""Fixtures for the proxy tests: a manager stand-in, emulated Plex servers, real mitmdump."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplex import Cluster, start_cluster
from tests.proxy.harness import MediaUpstream, Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """One manager stand-in for the whole module."""
    with Receiver() as rec:
        yield rec


@pytest.fixture
def fresh_receiver() -> Iterator[Receiver]:
    """A manager stand-in of the test's own (it is taken down or counted from zero)."""
    with Receiver() as rec:
        yield rec


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The emulated `demo` cluster, one per module."""
    with start_cluster("demo") as c:
        yield c


@pytest.fixture(scope="module")
def media() -> Iterator[MediaUpstream]:
    up = MediaUpstream()
    try:
        yield up
    finally:
        up.stop()
