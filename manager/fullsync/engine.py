"""Full sync: every user's watched state and resume points, reconciled across all servers.

One run:
1. per server, the owner's listing builds the catalogue (and is the owner's state);
2. items are grouped across servers by shared identity keys (group.py);
3. per user (everyone who can use a server, from the user directory, filtered by the
   config's allow/deny list and `--user`): their listing on every server they can use,
   their ledger rows, the decision (reconcile), the decided state recorded in the ledger,
   the writes queued in the outbox (`origin="sync"`); the next user's listings are read
   while a user is planned (after a small plan: ahead.py);
4. wait until the outbox has delivered them (or their peer is down) and report.

Reads are paged (1 000, with ids) with `sync.concurrency` requests per server at most; no
per-item reads. Writes go through the same outbox as real-time sync, so an interrupted run
resumes from the database. A lease row in the database keeps two syncs (scheduled, on
start, a catch-up, or from the CLI) from running at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from manager.config import Config
from manager.fullsync import collector
from manager.fullsync.ahead import ReadAhead
from manager.fullsync.catalog import Catalog
from manager.fullsync.changed import read_changed
from manager.fullsync.group import Groups, build_groups
from manager.fullsync.handoff import hand_over, outbox_write
from manager.fullsync.plan import PlannedWrite, Record, UserView, best_ledger, plan_user
from manager.fullsync.read import RunReader, UserRead
from manager.fullsync.report import Progress, SyncReport
from manager.fullsync.tracker import Tracker
from manager.logs import get_logger
from manager.model import ItemKey, UserId
from manager.servers.interface import DEFAULT_PAGE_SIZE, MediaServer, UserDirectory
from manager.servers.server import Server
from manager.store import clocks, lease, ledger, peer_writes
from manager.store.ledger import LedgerEntry
from manager.store.outbox import Outbox
from manager.store.runner import DbRunner

log = get_logger("manager.fullsync")

LEASE_TTL = 120.0
CHUNK = 500  # ledger records per database call: real-time work interleaves
# Sync writes share the outbox with real-time ones, which queue behind whatever is due
# first: the sync keeps at most MAX_AHEAD of its writes queued, adding FEED at a time.
FEED = 250
MAX_AHEAD = 1000
# A user whose plan has fewer changes than this: the next user's listing is read while the
# following user is planned (a large plan and a listing at once are a peak of memory).
SMALL_PLAN = 1000
# A sync of changes only starts this long before the last good run did: server clocks
# drift, and a stamp is a whole second. Where a server's clock was never learned, an hour.
CLOCK_SLACK_S = 120.0
UNKNOWN_CLOCK_S = 3600.0


@dataclass
class SyncOptions:
    dry_run: bool = False
    users: tuple[str, ...] = ()  # names (or cluster user ids); empty: everyone allowed
    servers: tuple[str, ...] = ()  # write only to these; empty: every server
    only: str | None = None  # "watched" | "progress"
    page_size: int = DEFAULT_PAGE_SIZE
    concurrency: int = 8  # page requests in flight per server at most (paced below it)
    # Only what changed since the last run that ended well (fullsync/changed.py); a full
    # run when there was none.
    changed_only: bool = False
    wait_timeout: float | None = 3600.0  # for delivery; None: until done
    reason: str = "cli"


class SyncBusy(RuntimeError):
    """Another full sync holds the lease."""


def _ledger_rows(
    user_id: UserId,
) -> tuple[list[LedgerEntry], dict[str, dict[str, tuple[int, float]]]]:
    """The user's ledger rows and the stamps our writes left on peers for them."""
    return list(ledger.for_user(user_id)), peer_writes.stamps_for(user_id)


def _commit(user_id: UserId, since: float, records: list[Record], groups: Groups) -> set[int]:
    """Record decided states, except for items a real-time change touched since `since`
    (returned: their writes are dropped, the real-time path owns them). One call on the
    database thread, so no real-time change slips in between the check and the records."""
    touched: set[int] = set()
    for key in ledger.changed_since(user_id, since):
        gi = groups.by_key.get(key)
        if gi is not None:
            touched.add(gi)
        touched.update(groups.by_parent.get(key, ()))
    ledger.record_all([rec.observation for rec in records if rec.group not in touched])
    return touched


class FullSync:
    def __init__(
        self,
        config: Config,
        runner: DbRunner,
        servers: Sequence[Server],
        directory: UserDirectory,
        outbox: Outbox | None,
        readers: Sequence[MediaServer],
        options: SyncOptions | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.runner = runner
        self.servers = list(servers)
        self.outbox = outbox
        self.options = options or SyncOptions(concurrency=config.sync.concurrency)
        self.progress = progress or Progress()
        self.report = SyncReport(dry_run=self.options.dry_run, started_at=time.time())
        self.reads = RunReader(
            self.servers, readers, directory, self.report, self.progress, self.options.page_size
        )
        self.groups: Groups | None = None
        # (user name, write): what a dry run would have written.
        self.planned: list[tuple[str, PlannedWrite]] = []
        self._lease_owner = uuid.uuid4().hex

    @property
    def catalogs(self) -> list[Catalog]:
        return self.reads.catalogs

    async def run(self) -> SyncReport:
        opts = self.options
        for s in self.servers:
            self.report.server(s.name)
        if not opts.dry_run:
            holder = await self.runner.run(lease.acquire, self._lease_owner, LEASE_TTL)
            if holder is not None:
                raise SyncBusy(f"another full sync is running ({holder})")
        run_id = None
        renew = None
        try:
            if not opts.dry_run:
                kind = "changed" if opts.changed_only else self.report.kind
                run_id = await self.runner.run(
                    lease.run_started, self.report.started_at, opts.reason, kind
                )
                renew = asyncio.create_task(self._renew_lease())
            log.info(
                "sync_started",
                reason=opts.reason,
                dry_run=opts.dry_run or None,
                users=",".join(opts.users) or None,
                servers=",".join(opts.servers) or None,
                only=opts.only,
            )
            try:
                with collector.fewer_passes():
                    await self._run()
            except asyncio.CancelledError:
                self.report.error = "cancelled"
                raise
            except Exception as exc:
                log.exception("sync_crashed")
                self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.report.finished_at = time.time()
            for reader, s in zip(self.reads.readers, self.servers, strict=True):
                self.report.server(s.name).read_requests = reader.request_count
            if renew is not None:
                renew.cancel()
            learned = {s.name: s.clock.offset for s in self.servers if s.clock.offset is not None}
            with contextlib.suppress(Exception):
                await self.runner.run(clocks.save, learned)
            if run_id is not None:
                with contextlib.suppress(Exception):
                    await self.runner.run(
                        lease.run_finished,
                        run_id,
                        self.report.finished_at,
                        self.report.ok,
                        json.dumps(self.report.as_dict()),
                    )
            if not opts.dry_run:
                with contextlib.suppress(Exception):
                    await self.runner.run(lease.release, self._lease_owner)
        log.info(
            "sync_finished",
            ok=self.report.ok,
            seconds=round(self.report.finished_at - self.report.started_at, 2),
            changes=self.report.changes,
            undelivered=self.report.undelivered or None,
            **{
                name: f"compared={s.compared} watched={s.watched} unwatched={s.unwatched} "
                f"resume={s.resume} skipped={s.skipped} failed={s.failed}"
                for name, s in self.report.servers.items()
            },
        )
        return self.report

    async def _since(self) -> list[int] | None:
        """Where a run of changes only starts on each server (on its clock), or None for a
        full run: the start of the last run that ended well, moved to the server's clock
        (servers/peer_clock.py, kept in store/clocks.py) less `CLOCK_SLACK_S`; less
        `UNKNOWN_CLOCK_S` where that clock was never learned."""
        last = await self.runner.run(lease.last_good_start)
        if last is None:
            log.info("sync_full_instead", why="no earlier sync ended well")
            self.report.kind = "full"
            return None
        self.report.kind = "changed"
        kept = await self.runner.run(clocks.load)
        since = []
        for s in self.servers:
            offset = s.clock.offset if s.clock.offset is not None else kept.get(s.name)
            since.append(
                int(last + offset - CLOCK_SLACK_S) if offset is not None
                else int(last - UNKNOWN_CLOCK_S)
            )  # fmt: skip
        return since

    async def _renew_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            with contextlib.suppress(Exception):
                await self.runner.run(lease.acquire, self._lease_owner, LEASE_TTL)

    async def _run(self) -> None:
        opts = self.options
        reads = self.reads
        self.progress.start("catalogue", len(self.servers))
        await asyncio.gather(*(reads.read_catalog(i) for i in range(len(self.servers))))
        self.progress.finish()
        if not reads.readable():
            self.report.error = "no server could be read"
            return
        reads.catalogued()
        cfg = self.config.sync
        users = reads.select_users(cfg.allow_users, cfg.deny_users, opts.users)
        self.report.users = [u.name for u in users]
        # On a thread: the loop goes on meanwhile (real-time events, in `serve`), while
        # grouping holds the GIL in turns.
        groups = self.groups = await asyncio.to_thread(build_groups, reads.catalogs_read())
        since = await self._since() if opts.changed_only else None
        if since is not None:
            for catalog in reads.catalogs:
                # A show-level mark needs every episode's state; this run reads a few.
                catalog.level_marks = False
        self.report.groups = len(groups.groups)
        ahead = ReadAhead(
            users,
            lambda user, n: (
                reads.read_user(user, n)
                if since is None
                else read_changed(reads, user, n, since, groups, self.runner)
            ),
        )
        try:
            await self._users(ahead, groups, frozenset(opts.servers) if opts.servers else None)
        finally:
            ahead.cancel()

    async def _users(
        self, ahead: ReadAhead, groups: Groups, write_servers: frozenset[str] | None
    ) -> None:
        """Each user's listing planned, recorded and queued in turn; then the writes are
        waited for."""
        opts = self.options
        tracker: Tracker | None = None
        if not opts.dry_run and self.outbox is not None:
            tracker = Tracker(self.report, self.outbox, self.progress)
            self.outbox.add_listener(tracker.listener)
        try:
            self.progress.start("users", len(ahead.users))
            small = False  # whether the user before planned few changes
            for n, user in enumerate(ahead.users):
                read = await ahead.take(n)
                if small:
                    # The next user's listing is read while this one is planned: the
                    # servers make pages while the loop plans. Not while a large plan is
                    # built (the user before had many changes, as in a first run): its
                    # records and writes and the pages in flight would add up to a peak
                    # of memory (ahead.py).
                    ahead.upto(n + 1)
                changes = await self._plan_and_queue(
                    read, groups, write_servers, tracker, lambda n=n: ahead.upto(n + 1)
                )
                small = changes < SMALL_PLAN
                del read  # not held while the next user's listing is awaited
                self.progress.advance(1, detail=user.name)
            self.progress.finish()
            if tracker is not None and tracker.pending:
                self.progress.start("writing", len(tracker.pending))
                await tracker.wait(opts.wait_timeout)
                self.progress.finish()
        finally:
            if tracker is not None and self.outbox is not None:
                self.outbox.remove_listener(tracker.listener)

    async def _plan_and_queue(
        self,
        read: UserRead,
        groups: Groups,
        write_servers: frozenset[str] | None,
        tracker: Tracker | None,
        recorded: Callable[[], None],
    ) -> int:
        """Plan the user's writes and record the decided states (then `recorded` is
        called), then queue the writes, a batch at a time as the outbox takes them; how
        many changes were planned."""
        user = read.user
        view = UserView(user.id, user.name, read.bits, read.states)
        rows, ours = await self.runner.run(_ledger_rows, user.id)
        await asyncio.sleep(0)
        best = best_ledger(rows, groups)
        if read.groups is not None:  # a run of changes only decides what it read
            best = {gi: row for gi, row in best.items() if gi in read.groups}
        plan = plan_user(
            view,
            self.reads.catalogs,
            groups,
            best,
            write_servers=write_servers,
            only=self.options.only,
            played_keys=frozenset(ItemKey(r.identity_key) for r in rows if r.played),
            stamps=ours,
        )
        # The user's writes go out over minutes in a large library: what only planning
        # needed (ledger rows, the best of them) need not live that long.
        del rows, ours, best
        await asyncio.sleep(0)
        for server, n in plan.skipped.items():
            self.report.server(server).skipped += n
        writes = plan.writes
        records = len(plan.records)
        if not self.options.dry_run:
            touched: set[int] = set()
            for start in range(0, max(len(plan.records), 1), CHUNK):
                touched |= await self.runner.run(
                    _commit, user.id, read.started, plan.records[start : start + CHUNK], groups
                )
            plan.records = []  # recorded
            if touched:
                writes = [
                    w
                    for w, g in zip(plan.writes, plan.write_groups, strict=True)
                    if g not in touched
                ]
                log.info("sync_yielded_to_events", user=user.name, items=len(touched))
        recorded()
        changes = len(writes)
        self.report.changes += changes
        if self.options.dry_run or self.outbox is None:
            for write in writes:
                self.planned.append((user.name, write))
                self.report.server(write.server).count(write.change, write.items)
        else:
            plan.writes = []  # each batch goes once queued (below), not with the plan
            while writes:
                batch, writes[:FEED] = writes[:FEED], []
                if tracker is not None:
                    await tracker.wait(self.options.wait_timeout, below=MAX_AHEAD - FEED)
                    for write in batch:
                        tracker.expect(user.id, write)
                await hand_over(self.reads, read, batch)
                await self.outbox.enqueue([outbox_write(user, w) for w in batch])
        log.info(
            "sync_user",
            user=user.name,
            items=plan.groups_decided,
            changes=changes,
            ledger_records=records if not self.options.dry_run else None,
        )
        return changes
