"""Import: a file's state put on one server, by a full sync between it and the file.

The run is the full sync's own (fullsync/engine.py) over two servers: the target and the
file read as a server (snapshot.py), writing to the target only, for the file's users
that this cluster knows (by id, else by name). So the writes go through the outbox with
its rules and retries, the ledger records what was decided, a dry run writes nothing,
and the summary and progress are the sync's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from manager.config import ServerConfig
from manager.fullsync.engine import FullSync, SyncOptions
from manager.fullsync.plan import PlannedWrite
from manager.fullsync.report import Progress, SyncReport
from manager.model import ClusterUser, UserId
from manager.runtime import Runtime
from manager.servers.index import LibraryIndex
from manager.servers.models import Credential
from manager.servers.server import Server
from manager.transfer.document import Document
from manager.transfer.snapshot import SnapshotDirectory, SnapshotServer


class ImportRefused(ValueError):
    """An import that cannot start (an unknown or unreachable server); exit code 2."""


@dataclass
class ImportResult:
    report: SyncReport
    planned: list[tuple[str, PlannedWrite]]
    unknown_users: list[str] = field(default_factory=list)  # in the file, not in the cluster


def match_users(
    document: Document, everyone: list[ClusterUser]
) -> tuple[dict[UserId, ClusterUser], dict[UserId, str], list[str]]:
    """The file's users as this cluster's people: by id, else by name (any case)."""
    by_id = {u.id: u for u in everyone}
    by_name = {u.name.casefold(): u for u in everyone}
    users: dict[UserId, ClusterUser] = {}
    owners: dict[UserId, str] = {}
    unknown: list[str] = []
    for entry in document.users:
        person = by_id.get(UserId(entry.id)) or by_name.get(entry.name.casefold())
        if person is None:
            unknown.append(entry.name)
            continue
        users[person.id] = person
        owners[person.id] = entry.id
    return users, owners, unknown


async def import_state(
    runtime: Runtime,
    document: Document,
    server_name: str,
    *,
    source: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    target = runtime.server(server_name)
    if target is None:
        raise ImportRefused(f"unknown server: {server_name}")
    await runtime.probe(target)
    if not target.reachable:
        raise ImportRefused(f"{server_name} does not answer: {target.last_error}")
    await runtime.directory.refresh()
    users, owners, unknown = match_users(document, runtime.directory.all_users())
    if not users:
        raise ImportRefused("no user of the file is known to this cluster")

    name = f"file:{Path(source).name}"
    api = SnapshotServer(name, document, owners)
    config = ServerConfig(name=name, url=f"file://{Path(source).name}", token="", kind="file")
    snapshot = Server(config, api, LibraryIndex(api, Credential("")))
    snapshot.mark(True)
    position = runtime.servers.index(target)
    reader = runtime.readers(runtime.config.sync.concurrency)[position]
    options = SyncOptions(
        dry_run=dry_run,
        users=tuple(users),
        servers=(target.name,),
        concurrency=runtime.config.sync.concurrency,
        reason="import",
    )
    sync = FullSync(
        runtime.config,
        runtime.runner,
        [target, snapshot],
        SnapshotDirectory(runtime.directory, name, users),
        None if dry_run else runtime.outbox,
        [reader, api],
        options,
        progress,
    )
    sync.report.kind = "import"
    if not dry_run:
        runtime.outbox.start()
    report = await sync.run()
    await runtime.outbox.stop()
    summary = report.server(target.name)
    summary.other_requests = max(0, target.api.request_count - summary.write_requests)
    return ImportResult(report, sync.planned, unknown)
