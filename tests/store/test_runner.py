"""DbRunner.together: calls of one turn of the loop share a job and a transaction, and a
call that fails fails alone (its writes undone, the others' kept). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3

import peewee
import pytest

from manager.store.db import MetaRow
from manager.store.runner import DbRunner


def _put(key: str) -> str:
    MetaRow.insert(key=key, value="v").execute()
    return key


def _put_then_fail(key: str) -> str:
    MetaRow.insert(key=key, value="v").execute()
    raise RuntimeError("this call fails after writing")


def _keys() -> set[str]:
    return {str(r.key) for r in MetaRow.select()}


def test_calls_of_one_turn_share_one_job(runner: DbRunner) -> None:
    async def main() -> list[str]:
        return await asyncio.gather(*(runner.together(_put, f"k{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"k{i}" for i in range(5)]
    assert runner.together_jobs == 1
    assert {f"k{i}" for i in range(5)} <= runner.call(_keys)


def test_a_failing_call_fails_alone_and_its_writes_are_undone(runner: DbRunner) -> None:
    async def main() -> list[object]:
        return await asyncio.gather(
            runner.together(_put, "before"),
            runner.together(_put_then_fail, "failed"),
            runner.together(_put, "after"),
            return_exceptions=True,
        )

    before, failed, after = asyncio.run(main())
    assert (before, after) == ("before", "after")
    assert isinstance(failed, RuntimeError)
    keys = runner.call(_keys)
    assert {"before", "after"} <= keys
    assert "failed" not in keys


def test_a_result_waits_for_the_commit(runner: DbRunner) -> None:
    # What together returns is committed: another connection sees it (SQLite file only).
    if not isinstance(runner.db, peewee.SqliteDatabase):
        pytest.skip("checked on SQLite's file")
    asyncio.run(runner.together(_put, "seen"))
    with sqlite3.connect(runner.db.database) as other:
        assert other.execute("SELECT 1 FROM meta WHERE key = 'seen'").fetchone() == (1,)
