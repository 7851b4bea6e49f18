"""What a full sync's reading keeps in memory: one copy of each item id, and the owner's
states only until the owner's turn."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

from manager.fullsync.read import RunReader
from manager.fullsync.report import Progress, SyncReport
from manager.servers.models import Credential, Library, MediaItem
from tests.support.fake_server import FakeCluster, FakeMediaServer, fake_cluster


class Decoding(FakeMediaServer):
    """Answers as a real server's do once decoded: every listing carries new strings."""

    async def items(  # type: ignore[override]
        self, credential: Credential, library: Library, kind: str, *args: object, **kw: object
    ) -> AsyncIterator[list[MediaItem]]:
        async for page in super().items(credential, library, kind, *args, **kw):  # type: ignore[arg-type]
            yield [dataclasses.replace(i, id=(i.id + " ")[:-1]) for i in page]


def _reader(cluster: FakeCluster) -> RunReader:
    for server in cluster.servers:
        fields = {f.name: getattr(server.api, f.name) for f in dataclasses.fields(FakeMediaServer)}
        server.api = Decoding(**fields)
    return RunReader(
        cluster.servers, [s.api for s in cluster.servers], cluster.directory,
        SyncReport(dry_run=True, started_at=0.0), Progress(), 100,
    )  # fmt: skip


def test_a_users_states_are_keyed_by_the_catalogues_own_copy_of_each_id() -> None:
    cluster = fake_cluster()
    alpha = cluster.api("alpha")
    for title in ("Heat", "Jaws"):
        alpha.mark("alice", alpha.find(title), True)
    reads = _reader(cluster)

    async def main() -> dict[str, object]:
        await reads.read_catalog(0)
        reads.select_users((), (), ())
        alice = next(u for u in cluster.directory.all_users() if u.name == "alice")
        return (await reads.read_user(alice, 1)).states[0]

    states = asyncio.run(main())
    items = reads.catalogs[0].items
    assert len(states) == 2
    assert all(k is items[k].item_id for k in states)


def test_the_owners_states_are_handed_out_once_and_read_again_if_asked_twice() -> None:
    cluster = fake_cluster()
    alpha = cluster.api("alpha")
    alpha.mark("admin", alpha.find("Heat"), True)
    reads = _reader(cluster)
    alpha = cluster.api("alpha")  # the decoding one now

    async def main() -> tuple[int, int, int, int]:
        await reads.read_catalog(0)
        reads.select_users((), (), ())
        admin = next(u for u in cluster.directory.all_users() if u.name == "admin")
        requests = alpha.request_count
        first = await reads.read_user(admin, 0)
        between = alpha.request_count
        again = await reads.read_user(admin, 0)
        assert reads.owner_listing(admin, 0) is None
        after = alpha.request_count
        return len(first.states[0]), between - requests, len(again.states[0]), after - between

    first, asked_first, again, asked_again = asyncio.run(main())
    assert (first, asked_first) == (1, 0)  # the catalogue's read was the owner's
    assert again == 1 and asked_again > 0  # gone from memory, so read from the server
