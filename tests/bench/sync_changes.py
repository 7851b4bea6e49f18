"""Changes made on the emulated servers between two syncs, as users would make them
without a proxy: each user stops a share of the movies on one server halfway (a resume
point) and marks as many played on another. The benchmark then compares a sync of changes
only (fullsync/changed.py) with a full one over the same changes."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from tests.bench.sync_floor import HEADERS, IN_FLIGHT, FloorServer, UserListing, read_shares


async def _make(describe: dict[str, Any], share: float, seed: int) -> int:
    rng = random.Random(seed)
    made = 0
    async with httpx.AsyncClient(headers=HEADERS, timeout=60) as http:
        servers = [FloorServer(http, entry, IN_FLIGHT) for entry in describe["servers"]]
        await asyncio.gather(*(read_shares(http, describe["plextv_url"], s) for s in servers))
        owner = servers[0].owner
        jobs = []
        for n, (user, _) in enumerate(sorted(servers[0].tokens.items())):
            if user == owner:
                continue
            stop_on, mark_on = servers[n % len(servers)], servers[(n + 1) % len(servers)]
            for kind, server in (("timeline", stop_on), ("scrobble", mark_on)):
                token = server.tokens.get(user)
                if token is None:
                    continue
                mine = UserListing(user, token, owner=False, keep=10**9)
                await server.listing(mine)
                count = max(1, int(len(mine.leaves) * share))
                for key, duration in rng.sample(mine.leaves, count):
                    jobs.append(server.write(kind, token, key, duration))
        for start in range(0, len(jobs), 64):
            await asyncio.gather(*jobs[start : start + 64])
        made = len(jobs)
    return made


def make_changes(describe: dict[str, Any], share: float = 0.01, seed: int = 7) -> int:
    """Make the changes; how many requests that took (one change each)."""
    return asyncio.run(_make(describe, share, seed))
