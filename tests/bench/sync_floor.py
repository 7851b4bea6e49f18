"""The floor of the full-sync benchmark: what a lean bare client needs for the same work.

Against a fresh emulator holding the same fixture as the measured sync, a small async
client with `in_flight` requests per server (8 by default), sending as the manager does:
on aiohttp's session itself (`transport="aiohttp"`; the others: tests/bench/floor_client.py):

1. tokens: asks plex.tv for each server's shares (`/api/servers/{machine}/shared_servers`
   with the owner's token), as the manager's directory does; whoever is shared a server
   uses the access token listed there. Users without a share (Home members) take their
   token from the emulator's description: the manager needs plex.tv calls for those, the
   floor does not.
2. reads: for each server the owner's listing and every sharer's listing, the pages our
   reader asks for: `/library/sections`, then `/library/sections/{id}/all` with `type` 1
   (movies), 4 (episodes) and, for the owner only, 2 (shows) and `includeGuids=1`, pages of
   `page_size` through the X-Plex-Container-Start/Size headers, JSON. Each page is decoded
   as our reader decodes it: any client has to look at the state it reads. The owner's
   pages whole (orjson, servers/json_body.py); the other users' pages, as our reader's
   state pass, straight into the fields of state (msgspec, servers/plex/state_page.py), with
   the duration for the writes (`decode="typed"`; `"orjson"`: every page whole, the floor
   of the measurements before our reader did so).
3. writes: per server as many write requests as our first sync made, `/:/scrobble`,
   `/:/unscrobble` and stopped `/:/timeline` reports in the proportion of its watched,
   unwatched and resume counts, spread over the server's users, each on a distinct movie or
   episode that user listed, with that user's token.

Phases run one after the other; nothing else (no database, no comparison, no read-back of
written items). `FloorResult.read_s` includes the token step.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from manager.servers import json_body
from tests.bench.cpu_use import process_cpu, spent, used_since
from tests.bench.floor_client import TRANSPORTS, Answer, FloorClient
from tests.support.processes import emulator_process

PAGE_SIZE = 1000  # the manager's DEFAULT_PAGE_SIZE; the bench checks page counts agree
IN_FLIGHT = 8
DECODES = ("typed", "orjson")
LIBRARY_ID = "com.plexapp.plugins.library"
TYPE_MOVIE, TYPE_SHOW, TYPE_EPISODE = 1, 2, 4
HEADERS = {
    "Accept": "application/json",
    "X-Plex-Client-Identifier": "plex-cluster-bench-floor",
    "X-Plex-Product": "Plex Cluster bench floor",
}


class Listed(msgspec.Struct):
    """What the floor looks at in a user's listed item: the state, and for the writes the
    key and the duration."""

    ratingKey: str = ""
    duration: int | None = None
    viewCount: int | None = None
    viewOffset: int | None = None
    lastViewedAt: int | None = None


class ListedContainer(msgspec.Struct):
    totalSize: int = 0
    Metadata: list[Listed] = []


class ListedPage(msgspec.Struct):
    MediaContainer: ListedContainer


LISTED = msgspec.json.Decoder(ListedPage)


@dataclass(frozen=True)
class WriteMix:
    """How many write requests of each kind one server gets."""

    scrobble: int = 0
    unscrobble: int = 0
    timeline: int = 0

    @property
    def total(self) -> int:
        return self.scrobble + self.unscrobble + self.timeline

    @classmethod
    def like(cls, requests: int, watched: int, unwatched: int, resume: int) -> WriteMix:
        """`requests` split as the report's item counts: they count items (a show's
        scrobble counts every episode), not requests, so this is the closest it tells."""
        items = watched + unwatched + resume
        if requests <= 0:
            return cls()
        if items <= 0:
            return cls(scrobble=requests)
        timeline = round(requests * resume / items)
        unscrobble = min(requests - timeline, round(requests * unwatched / items))
        return cls(requests - timeline - unscrobble, unscrobble, timeline)

    def kinds(self) -> list[str]:
        """One entry per request, the kinds interleaved so every user gets the same mix."""
        left = {"scrobble": self.scrobble, "unscrobble": self.unscrobble, "timeline": self.timeline}
        out: list[str] = []
        while any(left.values()):
            for kind, n in left.items():
                if n:
                    out.append(kind)
                    left[kind] = n - 1
        return out


@dataclass
class ServerFloor:
    name: str
    users: int = 0  # listings read (owner included)
    read_requests: int = 0
    write_requests: int = 0
    items_listed: int = 0  # (user, movie or episode) pairs read


@dataclass
class FloorResult:
    tokens_s: float
    read_s: float  # tokens + pages
    write_s: float
    servers: dict[str, ServerFloor]
    # This process's CPU time in each phase: near the wall time, the client itself (httpx,
    # json) and not the emulator is what bounds the floor.
    read_cpu_s: float = 0.0
    write_cpu_s: float = 0.0
    # The emulator's CPU time in the same phases (None: not known).
    servers_read_cpu_s: float | None = None
    servers_write_cpu_s: float | None = None

    @property
    def total_s(self) -> float:
        return self.read_s + self.write_s

    @property
    def servers_cpu_s(self) -> float | None:
        if self.servers_read_cpu_s is None or self.servers_write_cpu_s is None:
            return None
        return self.servers_read_cpu_s + self.servers_write_cpu_s


@dataclass
class UserListing:
    user: str
    token: str
    owner: bool
    keep: int  # how many (rating key, duration) pairs to remember for the writes
    leaves: list[tuple[str, int]] = field(default_factory=list)


class FloorServer:
    """One emulated server as the floor client sees it: its URL, gate and counts."""

    def __init__(
        self,
        http: FloorClient,
        entry: dict[str, Any],
        in_flight: int,
        typed: bool = True,
    ) -> None:
        self.http = http
        self.typed = typed  # users' pages decoded as our state pass decodes them
        self.url = str(entry["url"]).rstrip("/")
        self.machine = str(entry["machineIdentifier"])
        self.owner = str(entry["owner"])
        self.owner_token = str(entry["owner_token"])
        self.described_tokens: dict[str, str] = dict(entry.get("tokens") or {})
        self.gate = asyncio.Semaphore(in_flight)
        self.counts = ServerFloor(str(entry["name"]))
        self.tokens: dict[str, str] = {}  # user → token on this server, owner first

    async def get(
        self, path: str, token: str, params: dict[str, str], start: int | None = None
    ) -> Answer:
        headers = {"X-Plex-Token": token}
        if start is not None:
            headers["X-Plex-Container-Start"] = str(start)
            headers["X-Plex-Container-Size"] = str(PAGE_SIZE)
        async with self.gate:
            response = await self.http.get(self.url + path, params=params, headers=headers)
        response.raise_for_status()
        return response

    async def read(self, path: str, token: str, params: dict[str, str], start: int | None) -> Any:
        self.counts.read_requests += 1
        response = await self.get(path, token, params, start)
        return json_body.loads(response.content)["MediaContainer"]

    async def scan(self, listing: UserListing, section: str, type_code: int) -> None:
        path = f"/library/sections/{section}/all"
        params = {"type": str(type_code)}
        if listing.owner:  # the catalogue: only the owner's read asks for the <Guid>s
            params["includeGuids"] = "1"

        def room(listed: int) -> int:
            """Counts a page's items; how many more of them the writes need."""
            if type_code == TYPE_SHOW:
                return 0
            self.counts.items_listed += listed
            return max(0, listing.keep - len(listing.leaves))

        async def page(start: int) -> int:
            if self.typed and not listing.owner:
                self.counts.read_requests += 1
                response = await self.get(path, listing.token, params, start)
                container = LISTED.decode(response.content).MediaContainer
                listed = container.Metadata
                keep = listed[: room(len(listed))]
                listing.leaves.extend((i.ratingKey, i.duration or 0) for i in keep)
                return container.totalSize
            body = await self.read(path, listing.token, params, start)
            items = body.get("Metadata") or []
            keep = items[: room(len(items))]
            listing.leaves.extend((str(i["ratingKey"]), int(i.get("duration") or 0)) for i in keep)
            return int(body.get("totalSize") or 0)

        # Taken and dropped as each page comes: at 100 000 items × 20 users, holding a
        # listing's decoded pages until all arrive would need gigabytes.
        total = await page(0)
        await asyncio.gather(*(page(start) for start in range(PAGE_SIZE, total, PAGE_SIZE)))

    async def listing(self, listing: UserListing) -> None:
        sections = (await self.read("/library/sections", listing.token, {}, None)).get(
            "Directory"
        ) or []
        scans = []
        for sec in sections:
            if sec.get("type") == "movie":
                scans.append(self.scan(listing, str(sec["key"]), TYPE_MOVIE))
            elif sec.get("type") == "show":
                scans.append(self.scan(listing, str(sec["key"]), TYPE_EPISODE))
                if listing.owner:  # the catalogue's shows: only the owner's read asks
                    scans.append(self.scan(listing, str(sec["key"]), TYPE_SHOW))
        await asyncio.gather(*scans)
        self.counts.users += 1

    async def write(self, kind: str, token: str, rating_key: str, duration: int) -> None:
        if kind == "timeline":
            duration = duration or 3_600_000  # Plex ignores a timeline without a duration
            params = {
                "ratingKey": rating_key,
                "key": f"/library/metadata/{rating_key}",
                "identifier": LIBRARY_ID,
                "state": "stopped",
                "time": str(duration // 2),  # a resume point, well short of "played"
                "duration": str(duration),
            }
        else:
            params = {"identifier": LIBRARY_ID, "key": rating_key}
        self.counts.write_requests += 1
        await self.get(f"/:/{kind}", token, params)


async def read_shares(http: FloorClient, plextv: str, server: FloorServer) -> None:
    """The server's users and their tokens, from plex.tv as the manager reads them."""
    response = await http.get(
        f"{plextv.rstrip('/')}/api/servers/{server.machine}/shared_servers",
        headers={"X-Plex-Token": server.owner_token},
    )
    response.raise_for_status()
    server.tokens = {server.owner: server.owner_token}
    for node in ET.fromstring(response.content).iter("SharedServer"):
        if node.get("accessToken") and node.get("username"):
            server.tokens[str(node.get("username"))] = str(node.get("accessToken"))
    for user, token in server.described_tokens.items():
        server.tokens.setdefault(user, token)


def _plan(
    server: FloorServer, mix: WriteMix, listings: list[UserListing]
) -> deque[tuple[str, str, str, int]]:
    """(kind, token, rating key, duration) per write: users in turn, distinct items each."""
    jobs: deque[tuple[str, str, str, int]] = deque()
    used = [0] * len(listings)
    for n, kind in enumerate(mix.kinds()):
        i = n % len(listings)
        listing = listings[i]
        if not listing.leaves:
            raise RuntimeError(f"{server.counts.name}: {listing.user} lists no item to write")
        key, duration = listing.leaves[used[i] % len(listing.leaves)]
        used[i] += 1
        jobs.append((kind, listing.token, key, duration))
    return jobs


async def _writer(server: FloorServer, jobs: deque[tuple[str, str, str, int]]) -> None:
    while jobs:
        kind, token, key, duration = jobs.popleft()
        await server.write(kind, token, key, duration)


async def measure(
    describe: dict[str, Any],
    mixes: dict[str, WriteMix],
    in_flight: int = IN_FLIGHT,
    transport: str = "aiohttp",
    decode: str = "typed",
) -> FloorResult:
    """The floor against a running emulator (`describe`: its description)."""
    entries = describe["servers"]
    client = TRANSPORTS[transport]
    async with client(HEADERS, in_flight * len(entries) + 1, 300.0) as http:
        servers = [FloorServer(http, e, in_flight, decode == "typed") for e in entries]
        pid = describe.get("pid")
        t0, c0, e0 = time.perf_counter(), time.process_time(), process_cpu(pid)
        await asyncio.gather(*(read_shares(http, describe["plextv_url"], s) for s in servers))
        t_tokens = time.perf_counter()
        plans: list[list[UserListing]] = []
        for s in servers:
            wanted = mixes.get(s.counts.name, WriteMix()).total
            per_user = -(-wanted // max(1, len(s.tokens)))  # ceiling
            plans.append([UserListing(u, t, u == s.owner, per_user) for u, t in s.tokens.items()])
        await asyncio.gather(
            *(s.listing(lst) for s, plan in zip(servers, plans, strict=True) for lst in plan)
        )
        t_read, c_read, e_read = time.perf_counter(), time.process_time(), process_cpu(pid)
        e_read_s = spent(e0, e_read)
        queues = [
            _plan(s, mixes.get(s.counts.name, WriteMix()), plan)
            for s, plan in zip(servers, plans, strict=True)
        ]
        await asyncio.gather(
            *(_writer(s, q) for s, q in zip(servers, queues, strict=True) for _ in range(in_flight))
        )
        t_write, c_write = time.perf_counter(), time.process_time()
        e_write_s = used_since(pid, e_read)
    return FloorResult(
        tokens_s=t_tokens - t0,
        read_s=t_read - t0,
        write_s=t_write - t_read,
        servers={s.counts.name: s.counts for s in servers},
        read_cpu_s=c_read - c0,
        write_cpu_s=c_write - c_read,
        servers_read_cpu_s=e_read_s,
        servers_write_cpu_s=e_write_s,
    )


def run_floor(
    fixture: Path,
    mixes: dict[str, WriteMix],
    in_flight: int = IN_FLIGHT,
    transport: str = "aiohttp",
    decode: str = "typed",
) -> FloorResult:
    """Start a fresh emulator on `fixture` (its start-up not timed), measure, stop it."""
    with emulator_process(fixture) as describe:
        return asyncio.run(measure(describe, mixes, in_flight, transport, decode))
