"""Listings read ahead of the catalogue (fullsync/ahead.py, read.py `_Early`): kept in
brief until the catalogue is ready, the same states and masks as read after it, a
bounded number of pages, and nothing taken from a read whose guess was wrong."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from manager.fullsync import read as read_module
from manager.fullsync.ahead import ReadAhead
from manager.fullsync.catalog import UserState
from manager.fullsync.read import RunReader, UserRead
from manager.fullsync.report import Progress, SyncReport
from manager.model import ClusterUser
from manager.servers.models import Credential, Library, MediaItem
from tests.support.fake_server import FakeCluster, fake_cluster

ALICE_BIT = 1 << 2  # alice is the second user of the run (read.py: 1 << (n + 1))


def _cluster() -> FakeCluster:
    cluster = fake_cluster()
    for server in cluster.servers:
        api = cluster.api(server.name)
        api.mark("alice", api.find("Heat"), True)
        api.resume("alice", api.find("Jaws"), 1_200_000)
    return cluster


def _reader(cluster: FakeCluster, page_size: int = 100) -> RunReader:
    return RunReader(
        cluster.servers, [s.api for s in cluster.servers], cluster.directory,
        SyncReport(dry_run=True, started_at=0.0), Progress(), page_size,
    )  # fmt: skip


def _user(reads: RunReader, name: str) -> ClusterUser:
    return next(u for u in reads.select_users((), (), ()) if u.name == name)


def _seen(reads: RunReader) -> list[list[tuple[str, bool]]]:
    """Per server: which items alice can see (by her bit), by title (each cluster numbers
    its items anew)."""
    return [
        sorted((i.title, bool(i.mask & ALICE_BIT)) for i in c.items.values())
        for c in reads.catalogs
    ]


def _states(reads: RunReader, read: UserRead) -> list[dict[str, UserState]]:
    return [
        {c.items[k].title: v for k, v in states.items()}
        for c, states in zip(reads.catalogs, read.states, strict=True)
    ]


def test_a_listing_read_before_the_catalogue_ends_as_one_read_after_it() -> None:
    async def after() -> tuple[RunReader, UserRead]:
        reads = _reader(_cluster())
        await asyncio.gather(*(reads.read_catalog(i) for i in range(3)))
        await reads.read_user(_user(reads, "admin"), 0)
        return reads, await reads.read_user(_user(reads, "alice"), 1)

    async def before() -> tuple[RunReader, UserRead]:
        reads = _reader(_cluster())
        ahead = ReadAhead(reads)
        ahead.before_catalogue(reads.select_users((), (), ()))
        await asyncio.gather(*(reads.read_catalog(i) for i in range(3)))
        ahead.start(reads.select_users((), (), ()))
        await ahead.take(0)  # the owner's: the catalogue
        return reads, await ahead.take(1)

    (plain, read), (early, read_early) = asyncio.run(after()), asyncio.run(before())
    assert _states(early, read_early) == _states(plain, read)
    assert len(read.states[0]) == 2
    assert _seen(early) == _seen(plain)
    assert any(seen for server in _seen(early) for _, seen in server)
    assert [s.compared for s in early.report.servers.values()] == [
        s.compared for s in plain.report.servers.values()
    ]


def test_a_read_of_the_wrong_guess_goes_and_leaves_no_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = _cluster()
    reads = _reader(cluster)

    async def main() -> asyncio.Task[object]:
        ahead = ReadAhead(reads)
        guess = reads.select_users((), (), ())
        ahead.before_catalogue(guess)
        early = ahead._early[2][0]  # type: ignore[index]
        await asyncio.gather(*(reads.read_catalog(i) for i in range(3)))
        await asyncio.sleep(0.05)  # its pages are in, kept
        assert not early.done()
        # The config's deny list left alice out: the run's users are not the guess.
        ahead.start(reads.select_users((), ("alice",), ()))
        await asyncio.sleep(0)
        return early  # type: ignore[return-value]

    early = asyncio.run(main())
    assert early.cancelled()
    assert not any(seen for server in _seen(reads) for _, seen in server)


class _Counting:
    """Counts the pages a fake server's listing has handed out."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.pages = 0
        for server in cluster.servers:
            api = cluster.api(server.name)
            listed = api.items

            async def items(
                credential: Credential, library: Library, kind: str, *args: object,
                listed: object = listed, **kwargs: object,
            ) -> AsyncIterator[list[MediaItem]]:  # fmt: skip
                async for page in listed(credential, library, kind, *args, **kwargs):  # type: ignore[operator]
                    if credential.secret.startswith("alice@"):
                        self.pages += 1
                    yield page

            api.items = items  # type: ignore[method-assign]


def test_a_read_before_the_catalogue_keeps_a_bounded_number_of_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(read_module, "EARLY_PAGES", 2)
    cluster = _cluster()
    counting = _Counting(cluster)
    reads = _reader(cluster, page_size=1)  # a page per item: many more than 2

    async def main() -> tuple[int, int, int]:
        ahead = ReadAhead(reads)
        ahead.before_catalogue(reads.select_users((), (), ()))
        await asyncio.sleep(0.05)
        waiting = counting.pages
        await asyncio.gather(*(reads.read_catalog(i) for i in range(3)))
        ahead.start(reads.select_users((), (), ()))
        await ahead.take(0)
        read = await ahead.take(1)
        return waiting, counting.pages, sum(len(s) for s in read.states)

    waiting, total, states = asyncio.run(main())
    # Per server, each of its two scans (movies, episodes) has handed out at most the
    # page that found the listing full: the read waits, not the pages pile up.
    assert waiting <= 3 * 2 * 2
    assert total > waiting
    assert states == 6  # Heat and Jaws on each of the three servers
