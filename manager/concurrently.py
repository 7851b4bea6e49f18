"""Awaiting several things at once, where one failing ends them all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def all_or_cancel[T](*aws: Awaitable[T]) -> list[T]:
    """Every result, in order. On the first exception the others are cancelled, and
    awaited, before it propagates as it was: `asyncio.gather` leaves them running (a
    listing whose movies failed went on reading its episodes, requests and all, into a
    catalogue the run no longer used), and a TaskGroup would wrap it in a group that
    `except SomeError` does not catch."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
