"""Real things the fuzz suite throws requests at: an upstream, a manager stand-in, and the
real manager (subprocess) in front of the emulated demo cluster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakeplex import Cluster, start_cluster
from tests.proxy.harness import MediaUpstream, Receiver
from tests.support.configs import write_config
from tests.support.live_cluster import ManagerProcess
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def media() -> Iterator[MediaUpstream]:
    up = MediaUpstream()
    try:
        yield up
    finally:
        up.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


@dataclass
class ManagerWorld:
    cluster: Cluster
    manager: ManagerProcess


@pytest.fixture(scope="session")
def manager_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerWorld]:
    """One real manager for the fuzz suite: started once, it takes every hostile event."""
    workdir = tmp_path_factory.mktemp("fuzz-manager")
    with start_cluster("demo") as cluster:
        port = free_port()
        manager = ManagerProcess(write_config(cluster, workdir, port), workdir, port)
        manager.start()
        try:
            yield ManagerWorld(cluster, manager)
        finally:
            manager.stop()
