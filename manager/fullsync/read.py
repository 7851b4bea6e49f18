"""Full sync, reading: one server's catalogue and each user's watch state, in pages.

Per server the owner's listing (shows first, then movies and episodes, with their ids,
pages of 1 000) builds the catalogue: every item's identity keys, duration, show and
season. Every other user's listing of the same libraries only adds that user's state. No
per-item request is made: a request count that grows with pages, not items.

Kept small on purpose: per (server, user) only the items that carry some state (the
catalogue's own items: catalog.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from manager.concurrently import all_or_cancel
from manager.fullsync.catalog import ADMIN_BIT, Catalog, UserState, state_of
from manager.fullsync.report import Progress, SyncReport
from manager.logs import get_logger
from manager.model import ClusterUser, UserId
from manager.servers.errors import MediaServerError
from manager.servers.interface import DEFAULT_PAGE_SIZE, MediaServer, UserDirectory
from manager.servers.models import EPISODE, MOVIE, SHOW, Credential, Library, MediaItem
from manager.servers.server import Server

log = get_logger("manager.fullsync")


@dataclass
class Listing:
    states: dict[str, UserState] = field(default_factory=dict)
    compared: int = 0
    pages: int = 0


PageHook = Callable[[int], None]


async def _scan(
    server: MediaServer,
    credential: Credential,
    library: Library,
    kind: str,
    page_size: int,
    on_page: Callable[[list[MediaItem]], None],
    since: int | None = None,
    state_only: bool = False,
) -> int:
    pages = 0
    listed = server.items(credential, library, kind, page_size, since, state_only=state_only)
    async for page in listed:
        pages += 1
        on_page(page)
        await asyncio.sleep(0)  # let real-time events in between pages
    return pages


async def read_listing(
    server: MediaServer,
    credential: Credential,
    catalog: Catalog,
    bit: int,
    *,
    build: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_items: PageHook | None = None,
    since: int | None = None,
) -> Listing:
    """Every movie and episode the credential's user sees, with their state (`since`:
    only those the user played or left a resume point in after it, server clock).

    `build=True` (the owner's read) fills the catalogue, shows first so that episodes get
    their show's ids. Other users' reads only add state and visibility, so they ask for
    the state alone. An item the catalogue lacks (added to the server since it was read)
    is left for the next run: the items were grouped from the catalogue, and the plan
    skips an item in no group.
    """
    listing = Listing()
    libraries = await server.libraries(credential)
    movie_libraries = [s for s in libraries if s.kind == MOVIE]
    show_libraries = [s for s in libraries if s.kind == SHOW]

    if build:
        for library in show_libraries:
            listing.pages += await _scan(
                server,
                credential,
                library,
                SHOW,
                page_size,
                lambda page: [catalog.add_show(i) for i in page if i.kind == SHOW],
            )

    def take(page: list[MediaItem]) -> None:
        items = catalog.items
        states = listing.states
        for item in page:
            if item.kind not in (MOVIE, EPISODE):
                continue
            entry = items.get(item.id)
            if entry is None:
                if not build:
                    continue  # listed without its ids, and in no group: the plan skips it
                entry = catalog.add(item)
            entry.mask |= bit
            state = state_of(item)
            if state is not None:
                # Keyed by the catalogue's own copy of the id: the page's copy then goes
                # with the page, not with the user's states (tens of thousands a user).
                states[entry.item_id] = state
        listing.compared += len(page)
        if on_items is not None:
            on_items(len(page))

    scans = [(s, MOVIE) for s in movie_libraries] + [(s, EPISODE) for s in show_libraries]
    counts = await all_or_cancel(
        *(_scan(server, credential, s, k, page_size, take, since, not build) for s, k in scans)
    )
    listing.pages += sum(counts) + 1
    return listing


@dataclass
class UserRead:
    """One user's states on every server of a run (`bits[i]` 0: not read there)."""

    user: ClusterUser
    started: float
    bits: list[int]
    states: list[dict[str, UserState]]
    groups: set[int] | None = None  # the item groups read (None: all of them)


def matches(user: ClusterUser, names: Sequence[str]) -> bool:
    """A user named (case-insensitively) or given by id in `names`."""
    wanted = {n.casefold() for n in names}
    return user.name.casefold() in wanted or user.id in wanted


class RunReader:
    """What one full sync reads: each server's catalogue (the owner's listing), who may be
    synced, and each user's listing on the servers they can use."""

    def __init__(
        self,
        servers: Sequence[Server],
        readers: Sequence[MediaServer],
        directory: UserDirectory,
        report: SyncReport,
        progress: Progress,
        page_size: int,
    ) -> None:
        self.servers = list(servers)
        self.readers = list(readers)
        self.directory = directory
        self.report = report
        self.progress = progress
        self.page_size = page_size
        strings: dict[str, str] = {}
        numbers: dict[int, int] = {}
        self.catalogs = [
            Catalog(s.name, level_marks=r.level_marks, strings=strings, numbers=numbers)
            for s, r in zip(self.servers, self.readers, strict=True)
        ]
        self._owner_states: list[Listing | None] = [None] * len(self.servers)
        self._access: dict[UserId, set[int]] = {}  # user id → servers they can use

    def catalogued(self) -> None:
        """Every catalogue is read: each item holds its one copy of the strings and
        numbers it shares, so the tables that shared them can go. Before grouping, not
        after: at 100 000 items per server they are as large as the group index that
        grouping builds, the run's peak of memory."""
        for catalog in self.catalogs:
            catalog.strings, catalog.numbers = {}, {}

    def readable(self) -> list[int]:
        return [i for i, c in enumerate(self.catalogs) if c.error is None]

    def catalogs_read(self) -> list[Catalog]:
        """Every catalogue, an unreadable one as empty."""
        return [c if c.error is None else Catalog(c.name) for c in self.catalogs]

    async def read_catalog(self, i: int) -> None:
        server, catalog = self.servers[i], self.catalogs[i]
        summary = self.report.server(server.name)
        try:
            listing = await read_listing(
                self.readers[i], server.admin, catalog, ADMIN_BIT, build=True,
                page_size=self.page_size,
            )  # fmt: skip
        except MediaServerError as exc:
            catalog.error = str(exc)
            catalog.items.clear()
            summary.failed += 1
            summary.error(f"not read: {exc}")
            log.warning("sync_server_unreadable", server=server.name, error=str(exc))
        else:
            self._owner_states[i] = listing
            summary.skipped += catalog.without_identity
            log.info(
                "sync_catalogue",
                server=server.name,
                items=len(catalog.items),
                shows=len(catalog.shows),
                without_identity=catalog.without_identity or None,
                requests=self.readers[i].request_count,
            )
        self.progress.advance(1, detail=server.name)

    def select_users(
        self, allow: Sequence[str], deny: Sequence[str], only: Sequence[str]
    ) -> list[ClusterUser]:
        """Everyone who can use a readable server, by the config's allow/deny lists and
        `--user`; owners first (their state is already read), then by name."""
        found: dict[UserId, ClusterUser] = {}
        self._access.clear()
        for i in self.readable():
            for user in self.directory.users(self.servers[i].name):
                if allow and not matches(user, allow):
                    continue
                if deny and matches(user, deny):
                    continue
                if only and not matches(user, only):
                    continue
                found.setdefault(user.id, user)
                self._access.setdefault(user.id, set()).add(i)
        return sorted(found.values(), key=lambda u: (u.kind != "owner", u.name.casefold()))

    def usable(self, user: ClusterUser) -> list[int]:
        """The readable servers the user can use."""
        return [i for i in self.readable() if i in self._access.get(user.id, set())]

    def owner_listing(self, user: ClusterUser, i: int) -> Listing | None:
        """The catalogue's listing of server `i` when the user owns it (their state).
        Handed out once: the owner is read once a run, and their states need not stay in
        memory through every other user's (a tenth of the library or more per server)."""
        if not self._is_owner(user, i):
            return None
        listing, self._owner_states[i] = self._owner_states[i], None
        return listing

    def _is_owner(self, user: ClusterUser, i: int) -> bool:
        owner = self.directory.owner_of(self.servers[i].name)
        return owner is not None and owner.id == user.id

    async def read_user(self, user: ClusterUser, n: int) -> UserRead:
        """The user's listing on every server they can use; `n`: their place in the run."""
        count = len(self.servers)
        read = UserRead(user, time.time(), [0] * count, [{} for _ in range(count)])

        async def one(i: int) -> None:
            own = self.owner_listing(user, i)
            if own is not None:
                read.bits[i], read.states[i] = ADMIN_BIT, own.states
                self.report.server(self.servers[i].name).compared += own.compared
                return
            got = await self.user_listing(user, i, n)
            if got is not None:
                _, read.bits[i], listing = got
                read.states[i] = listing.states

        await asyncio.gather(*(one(i) for i in self.usable(user)))
        return read

    async def user_listing(
        self, user: ClusterUser, i: int, n: int, since: int | None = None
    ) -> tuple[Credential, int, Listing] | None:
        """A user's listing of server `i` (not its owner's: that is the catalogue), with
        the credential it took and the user's bit; `since`: changes only. None when they
        cannot use the server, or it could not be read (reported)."""
        server = self.servers[i]
        summary = self.report.server(server.name)
        try:
            credential = await self.directory.credential_for(user, server.name)
        except MediaServerError as exc:
            summary.error(f"no token for {user.name}: {exc}")
            summary.failed += 1
            return None
        if credential is None:
            return None  # cannot use this server
        bit = 1 << (n + 1)
        try:
            listing = await read_listing(
                self.readers[i], credential, self.catalogs[i], bit,
                page_size=self.page_size, since=since,
            )  # fmt: skip
        except MediaServerError as exc:
            summary.error(f"{user.name} not read: {exc}")
            summary.failed += 1
            log.warning("sync_user_unreadable", server=server.name, user=user.name, error=str(exc))
            return None
        summary.compared += listing.compared
        return credential, bit, listing
