"""The one thread every database call runs on, awaited from asyncio.

The database is opened on that thread too, so SQLite sees exactly one connection and the
event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import peewee

from manager.store.db import open_database

T = TypeVar("T")

_Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class DbRunner:
    """Runs database calls on one thread, awaited from asyncio.

    `run`: one call, one job on the thread. `together`: calls made in the same turn of the
    loop, or while the thread is busy, go as one job and one transaction (one failing
    fails alone: `_run_waiting`). A delivered write makes two small calls; at
    hundreds of writes a second, a job and a commit for each cost more than the calls.
    """

    def __init__(self, dsn: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self.db: peewee.Database = self._pool.submit(open_database, dsn).result()
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []  # calls for `together`'s next job
        self.together_jobs = 0  # how many jobs `together` sent (tests read it)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking form, for code outside the event loop (CLI, tests)."""
        return self._pool.submit(fn, *args).result()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args))

    async def together(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the database thread, in one transaction with the calls waiting
        beside it; returns once that transaction is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._waiting.append((fn, args, future))
            first = len(self._waiting) == 1
        if first:
            # After the callbacks ready now: the other deliveries whose answers came in the
            # same turn of the loop join this job.
            loop.call_soon(self._submit_waiting, loop)
        return await future

    def _submit_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        self.together_jobs += 1
        self._pool.submit(self._run_waiting, loop)

    def _run_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the database thread: every waiting call, in one transaction. When one
        raises, that transaction is undone and each call runs again in one of its own, so
        only the failing call fails (the calls act on the database alone: running one
        twice after an undo is safe). No savepoint per call: each costs two statements
        and a random name, more than the calls it would guard."""
        with self._lock:
            calls, self._waiting = self._waiting, []
        try:
            with self.db.atomic():
                outcomes: list[tuple[bool, Any]] = [(True, fn(*args)) for fn, args, _ in calls]
        except Exception:
            outcomes = []
            for fn, args, _ in calls:
                try:
                    with self.db.atomic():
                        outcomes.append((True, fn(*args)))
                except Exception as exc:
                    outcomes.append((False, exc))
        loop.call_soon_threadsafe(_settle, calls, outcomes)

    def close(self) -> None:
        self._pool.submit(self.db.close).result(timeout=10)
        self._pool.shutdown(wait=True)


def _settle(calls: list[_Call], outcomes: list[tuple[bool, Any]]) -> None:
    """On the event loop: each waiting call's result or exception."""
    for (_, _, future), (ok, value) in zip(calls, outcomes, strict=True):
        if future.done():  # its caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
