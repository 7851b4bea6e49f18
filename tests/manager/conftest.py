from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from manager.db import DbRunner


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[DbRunner]:
    r = DbRunner(f"sqlite:///{tmp_path / 'manager.db'}")
    yield r
    r.close()
