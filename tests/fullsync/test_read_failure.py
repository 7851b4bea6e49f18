"""A listing that fails ends whole: its other scans stop, and their requests with them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from manager.concurrently import all_or_cancel
from manager.fullsync.catalog import Catalog
from manager.fullsync.read import read_listing
from manager.servers.errors import ServerFault
from manager.servers.models import EPISODE, MOVIE, Credential, Library
from tests.support.fake_server import FakeMediaServer


class MoviesFail(FakeMediaServer):
    """Its movies' listing fails on the second page; its episodes' pages keep coming."""

    episode_pages = 0
    episodes_closed = False

    async def items(  # type: ignore[override]
        self, credential: Credential, library: Library, kind: str, *args: object, **kw: object
    ) -> AsyncIterator[list[object]]:
        if kind == MOVIE:
            yield []
            while not self.episode_pages:  # fails while the episodes are being read
                await asyncio.sleep(0.001)
            raise ServerFault("movies: 500", status=500, target=self.name)
        assert kind == EPISODE
        try:
            while True:
                await asyncio.sleep(0.005)
                self.episode_pages += 1
                yield []
        finally:
            self.episodes_closed = True


def test_when_one_scan_fails_the_others_stop_before_the_error_is_raised() -> None:
    server = MoviesFail(name="alpha", server_id="alpha-id")
    credential = Credential("admin@alpha")

    async def main() -> tuple[bool, int, int]:
        with pytest.raises(ServerFault):
            await read_listing(server, credential, Catalog("alpha"), 2)
        closed, pages = server.episodes_closed, server.episode_pages
        await asyncio.sleep(0.05)  # a scan left running reads on meanwhile
        return closed, pages, server.episode_pages

    closed, at_error, later = asyncio.run(main())
    assert closed  # the episodes' scan had ended when the error came out
    assert at_error > 0 and later == at_error


def test_all_or_cancel_gives_results_in_order_and_the_first_error_as_it_was() -> None:
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    async def main() -> None:
        assert await all_or_cancel(value(1, 0.02), value(2, 0.0)) == [1, 2]
        slow = asyncio.ensure_future(value(3, 10.0))

        async def fails() -> int:
            raise KeyError("first")

        with pytest.raises(KeyError, match="first"):
            await all_or_cancel(slow, fails())
        assert slow.cancelled()

    asyncio.run(main())
