"""Shared pytest fixtures: `demo_cluster`, a freshly started `demo` emulator cluster per
test; `dsn`/`runner`, a manager database on SQLite and, where the machine has it, on a
throw-away PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from manager.store.db import MODELS
from manager.store.runner import DbRunner
from tests.fakeplex import Cluster, start_cluster
from tests.support import pg


@pytest.fixture
def demo_cluster() -> Iterator[Cluster]:
    with start_cluster("demo") as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    why = pg.available()
    if why is not None:
        pytest.skip(f"no PostgreSQL here: {why}")
    with pg.postgres_server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and, where the machine has it, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'manager.db'}"
    return str(request.getfixturevalue("clean_postgres_dsn"))


@pytest.fixture
def clean_postgres_dsn(postgres_dsn: str) -> str:
    """The test server's database with no tables: each test starts from nothing."""
    runner = DbRunner(postgres_dsn)
    runner.call(lambda: runner.db.drop_tables(MODELS, safe=True))
    runner.close()
    return postgres_dsn


@pytest.fixture
def runner(dsn: str) -> Iterator[DbRunner]:
    r = DbRunner(dsn)
    yield r
    r.close()
