"""The Plex client's pacing against a real emulated server: requests in flight rise while
the server keeps its pace, fall when it slows down or answers 503, and never pass the
ceiling. Counts only, no timings asserted: the emulator's delay makes "slow" unmistakable."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from manager.servers.errors import ServerFault
from manager.servers.plex.client import PlexServerClient
from tests.fakeplex import Cluster
from tests.servers.helpers import CLIENT_ID

pytestmark = pytest.mark.anyio


async def test_in_flight_follows_the_server(cluster: Cluster) -> None:
    alpha = cluster.servers["alpha"]
    async with httpx.AsyncClient() as http:
        client = PlexServerClient(alpha.url, http, CLIENT_ID, interactive_concurrency=6)
        pacer = client.interactive
        peak = 0

        async def one() -> None:
            nonlocal peak
            peak = max(peak, pacer.in_flight + 1)
            await client.sections(alpha.owner_token)

        assert pacer.limit == 2  # a new server gets two at once, not the ceiling
        await asyncio.gather(*(one() for _ in range(400)))
        assert pacer.limit > 2 and peak <= 6  # it kept its pace: more at once, never past 6
        before = pacer.limit

        alpha.set_delay(0.3)  # tens of times its quickest answer: it slowed down
        try:
            await asyncio.gather(*(one() for _ in range(6)))
        finally:
            alpha.set_delay(0)
        assert pacer.limit < before and pacer.lowered >= 1
        slowed = pacer.limit

        await asyncio.sleep(pacer.pace or 0)  # a new burst: the slow one already counted
        alpha.fail_next(1, 503)
        with pytest.raises(ServerFault):
            await client.sections(alpha.owner_token)
        assert pacer.limit == max(1, slowed // 2)
