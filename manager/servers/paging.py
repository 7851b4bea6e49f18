"""Walking a server's listing a page at a time, in order, with a few pages in flight.

The first page tells the total; the rest are asked for up to `ahead` at once and handed
out in order. Every kind pages its catalogue this way (Plex by container start and size,
Jellyfin and Emby by StartIndex and Limit); only the fetching of one page differs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

# One page: (start, size) → (its entries, the listing's total if the server said).
type FetchPage[T] = Callable[[int, int], Awaitable[tuple[list[T], int | None]]]


async def pages[T](fetch: FetchPage[T], page_size: int, ahead: int) -> AsyncIterator[list[T]]:
    """Every non-empty page of a listing, in order."""
    size = max(1, page_size)
    first, total = await fetch(0, size)
    if not first:
        return
    yield first
    if total is None:
        # No total: walk sequentially until a short page.
        start = len(first)
        page = first
        while len(page) >= size:
            page, _ = await fetch(start, size)
            if page:
                yield page
            start += len(page)
        return
    if len(first) < min(size, total):
        size = len(first)  # the server caps the page size: follow its stride
    starts = deque(range(size, total, size))
    pending: deque[asyncio.Future[tuple[list[T], int | None]]] = deque()
    try:
        while starts or pending:
            while starts and len(pending) < max(1, ahead):
                pending.append(asyncio.ensure_future(fetch(starts.popleft(), size)))
            page, _ = await pending.popleft()
            if page:
                yield page
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
