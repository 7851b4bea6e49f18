"""Waiting for eventual consistency, never for speed: one poll for plain tests, one for
asyncio tests. Both raise `WaitTimeout` (an AssertionError) naming what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class WaitTimeout(AssertionError, TimeoutError):
    """wait_for gave up; both an assertion failure (tests) and a timeout (benchmarks)."""


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
) -> Any:
    """Poll until predicate() is truthy and return its value; WaitTimeout after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"{what} not reached within {timeout} s")
        time.sleep(interval)


async def until(
    check: Callable[[], Any | Awaitable[Any]],
    timeout: float = 20.0,
    what: str = "condition not reached",
    interval: float = 0.02,
) -> Any:
    """The same for asyncio tests: `check` may be a plain or a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"{what} (within {timeout} s)")
        await asyncio.sleep(interval)
