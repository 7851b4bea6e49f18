"""Full sync: every user's watched state and resume points, reconciled across all servers.

One run:
1. per server, the admin's listing builds the catalogue (and is the owner's state);
2. items are grouped across servers by shared identity keys (sync_plan.build_groups);
3. per user (everyone who can use a server, from plex.tv, filtered by the config's
   allow/deny list and `--user`): their listing on every server they can use, their ledger
   rows, the decision (reconcile), the decided state recorded in the ledger, the writes
   queued in the outbox (`origin="sync"`); the next user's listings are read meanwhile;
4. wait until the outbox has delivered them (or their peer is down) and report.

Reads are paged (1 000, `includeGuids=1`) with `sync.concurrency` requests per server at
most; no per-item reads. Writes go through the same outbox as real-time sync, so an
interrupted run resumes from the database. A lease row in the database keeps two syncs
(scheduled, on start, or from the CLI) from running at once. `serve` runs it on
`sync.schedule` / `FULL_SYNC_SCHEDULE` and at start with `UPDATE_ON_START`
(`scheduled_syncs`); `plex-cluster-manager sync` calls `run_cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx
import schedule

from manager import db
from manager import ledger as ledger_mod
from manager.config import Config
from manager.cron import CronError, schedule_cron
from manager.db import DbRunner, LedgerEntry, Meta, SyncRun
from manager.logs import get_logger
from manager.outbox import Delivery, Outbox, Result, Verdict, Write
from manager.pipeline import Pipeline, ServerRuntime
from manager.plex.errors import PlexError
from manager.plex.server_client import DEFAULT_PAGE_SIZE, PlexServerClient
from manager.sync_plan import Change, Groups, Record, UserPlan, UserView, best_ledger, plan_user
from manager.sync_plan import build_groups as _build_groups
from manager.sync_reader import ADMIN_BIT, Listing, ServerCatalog, read_listing
from manager.sync_report import Progress, SyncReport, progress_for

log = get_logger("manager.fullsync")

LEASE_KEY = "full_sync_lease"
LEASE_TTL = 120.0
CHUNK = 500  # ledger records per database call: real-time work interleaves
# Sync writes share the outbox with real-time ones, which queue behind whatever is due
# first: the sync keeps at most MAX_AHEAD of its writes queued, adding FEED at a time.
FEED = 250
MAX_AHEAD = 1000
MAX_WRITE_RETRIES = 3  # a sync write still failing after this many tries is reported failed
SCHEDULER_TICK = 30.0


@dataclass
class SyncOptions:
    dry_run: bool = False
    users: tuple[str, ...] = ()  # names (or plex.tv ids); empty: everyone allowed
    servers: tuple[str, ...] = ()  # write only to these; empty: every server
    only: str | None = None  # "watched" | "progress"
    page_size: int = DEFAULT_PAGE_SIZE
    concurrency: int = 2  # page requests in flight per server
    wait_timeout: float | None = 3600.0  # for delivery; None: until done
    reason: str = "cli"


class SyncBusy(RuntimeError):
    """Another full sync holds the lease."""


# --- database helpers (run on the DB thread) ---------------------------------------------


def _lease_value(owner: str, until: float) -> str:
    return json.dumps(
        {"owner": owner, "until": until, "host": socket.gethostname(), "pid": os.getpid()}
    )


def _lease_acquire(owner: str, ttl: float) -> str | None:
    """Take the lease; None when taken, else a description of the holder."""
    now = time.time()
    row = Meta.get_or_none(Meta.key == LEASE_KEY)
    if row is None:
        Meta.insert(
            key=LEASE_KEY, value=_lease_value(owner, now + ttl)
        ).on_conflict_ignore().execute()
    else:
        try:
            held = json.loads(row.value)
        except ValueError:
            held = {}
        if float(held.get("until", 0)) > now and held.get("owner") != owner:
            return f"{held.get('host')}:{held.get('pid')} until {time.ctime(float(held['until']))}"
        # Compare-and-set: of two takers racing, only one update matches the old value.
        Meta.update(value=_lease_value(owner, now + ttl)).where(
            (Meta.key == LEASE_KEY) & (Meta.value == row.value)
        ).execute()
    mine = Meta.get_or_none(Meta.key == LEASE_KEY)
    if mine is not None and json.loads(mine.value).get("owner") == owner:
        return None
    return "another process (just now)"


def lease_holder() -> str | None:
    """Who holds the lease now (None: free); a peek, for callers that would rather wait."""
    row = Meta.get_or_none(Meta.key == LEASE_KEY)
    if row is None:
        return None
    try:
        held = json.loads(row.value)
    except ValueError:
        return None
    if float(held.get("until", 0)) <= time.time():
        return None
    return f"{held.get('host')}:{held.get('pid')}"


def _lease_release(owner: str) -> None:
    row = Meta.get_or_none(Meta.key == LEASE_KEY)
    if row is not None and json.loads(row.value).get("owner") == owner:
        Meta.delete().where((Meta.key == LEASE_KEY) & (Meta.value == row.value)).execute()


def _run_started(at: float, reason: str) -> int:
    return int(SyncRun.insert(kind=f"full:{reason}"[:16], started_at=at).execute())


def _run_finished(run_id: int, at: float, ok: bool, summary: str) -> None:
    SyncRun.update(finished_at=at, ok=ok, summary=summary).where(SyncRun.id == run_id).execute()


def _ledger_rows(user_id: str) -> list[ledger_mod.LedgerState]:
    return list(ledger_mod.for_user(user_id))


def _commit(user_id: str, since: float, records: list[Record], groups: Groups) -> set[int]:
    """Record decided states, except for items a real-time change touched since `since`
    (returned: their writes are dropped, the real-time path owns them)."""
    touched: set[int] = set()
    query = LedgerEntry.select(LedgerEntry.identity_key).where(
        (LedgerEntry.user_id == user_id)
        & (LedgerEntry.updated_at >= since)
        & ~(LedgerEntry.source_server.startswith("sync:"))
    )
    for row in query:
        gi = groups.by_key.get(row.identity_key)
        if gi is not None:
            touched.add(gi)
        touched.update(groups.by_parent.get(row.identity_key, ()))
    with db.database_proxy.atomic():
        for rec in records:
            if rec.group not in touched:
                ledger_mod.record(rec.observation)
    return touched


# --- delivery tracking -------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    action: str
    items: int
    extra_requests: int  # an unscrobble before a resume point
    retries: int = 0


class _Tracker:
    """Follows this run's writes through the outbox and counts their outcomes."""

    def __init__(self, report: SyncReport, outbox: Outbox, progress: Progress) -> None:
        self.report = report
        self.outbox = outbox
        self.progress = progress
        self.pending: dict[tuple[str, str, str], _Pending] = {}
        self.changed = asyncio.Event()

    def expect(self, user_id: str, change: Change) -> None:
        key = (change.server, user_id, change.identity_key)
        self.pending[key] = _Pending(change.action, change.items, int(change.unscrobble_first))

    def _resolve(self, key: tuple[str, str, str]) -> _Pending | None:
        entry = self.pending.pop(key, None)
        if entry is not None and self.progress.phase == "writing":
            self.progress.advance(1)
        self.changed.set()
        return entry

    def _fail_peer(self, peer: str, why: str) -> None:
        summary = self.report.server(peer)
        summary.error(why)
        for key in [k for k in self.pending if k[0] == peer]:
            entry = self._resolve(key)
            if entry is not None:
                summary.failed += entry.items
                self.report.undelivered += 1

    def listener(self, d: Delivery, result: Result) -> None:
        w = d.write
        key = (w.peer, w.user_id, w.identity_key)
        entry = self.pending.get(key)
        if entry is None:
            return
        summary = self.report.server(w.peer)
        if result.verdict is Verdict.DELIVERED:
            self._resolve(key)
            summary.count(entry.action, entry.items)
            summary.write_requests += 1 + entry.extra_requests
        elif result.verdict is Verdict.SKIPPED:
            self._resolve(key)
            summary.skipped += entry.items
        elif result.verdict is Verdict.DROP:
            self._resolve(key)
            summary.failed += entry.items
            summary.error(f"write refused: {result.detail}")
        elif result.peer_down:
            self._fail_peer(w.peer, f"unreachable while writing: {result.detail}")
        else:
            entry.retries += 1
            if entry.retries >= MAX_WRITE_RETRIES:
                self._resolve(key)
                summary.failed += entry.items
                self.report.undelivered += 1
                summary.error(f"write failed {entry.retries}x: {result.detail}")

    async def wait(self, timeout: float | None, below: int = 0) -> None:
        """Until at most `below` writes are outstanding (a peer found down resolves its
        writes as failed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.changed.clear()
            if len(self.pending) <= below:
                return
            for peer in {k[0] for k in self.pending}:
                if self.outbox.peer_blocked(peer):
                    self._fail_peer(peer, "unreachable (outbox is holding its writes)")
            if deadline is not None and time.monotonic() >= deadline:
                for peer in {k[0] for k in self.pending}:
                    self._fail_peer(peer, "writes not delivered before the sync's time limit")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)


# --- the run -----------------------------------------------------------------------------


def _matches(user: Any, names: Sequence[str]) -> bool:
    wanted = {n.casefold() for n in names}
    return user.name.casefold() in wanted or str(user.id) in wanted


@dataclass
class _UserRead:
    view: UserView
    started: float
    compared: dict[str, int] = field(default_factory=dict)


class FullSync:
    def __init__(
        self,
        config: Config,
        runner: DbRunner,
        servers: Sequence[ServerRuntime],
        users: Any,  # UserDirectory
        outbox: Outbox | None,
        http: httpx.AsyncClient,
        client_id: str,
        options: SyncOptions | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.runner = runner
        self.servers = list(servers)
        self.users = users
        self.outbox = outbox
        self.options = options or SyncOptions(concurrency=config.sync.concurrency)
        self.progress = progress or Progress()
        self.readers = [
            PlexServerClient(
                s.config.url,
                http,
                client_id,
                name=s.name,
                max_concurrency=self.options.concurrency,
                timeout=max(30.0, config.delivery.timeout),
            )
            for s in self.servers
        ]
        self.catalogs = [ServerCatalog(s.name) for s in self.servers]
        self.owner_states: list[Listing | None] = [None] * len(self.servers)
        self.groups: Groups | None = None
        self.planned: list[tuple[str, Change]] = []  # (user name, change); dry runs list them
        self.report = SyncReport(dry_run=self.options.dry_run, started_at=time.time())
        self._lease_owner = uuid.uuid4().hex
        self._access: dict[Any, set[int]] = {}  # user id → servers they can use

    # -- public ------------------------------------------------------------------------
    async def run(self) -> SyncReport:
        opts = self.options
        for s in self.servers:
            self.report.server(s.name)
        if not opts.dry_run:
            holder = await self.runner.run(_lease_acquire, self._lease_owner, LEASE_TTL)
            if holder is not None:
                raise SyncBusy(f"another full sync is running ({holder})")
        run_id = None
        renew = None
        try:
            if not opts.dry_run:
                run_id = await self.runner.run(_run_started, self.report.started_at, opts.reason)
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
                await self._run()
            except asyncio.CancelledError:
                self.report.error = "cancelled"
                raise
            except Exception as exc:
                log.exception("sync_crashed")
                self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.report.finished_at = time.time()
            for reader, s in zip(self.readers, self.servers, strict=True):
                self.report.server(s.name).read_requests = reader.request_count
            if renew is not None:
                renew.cancel()
            if run_id is not None:
                with contextlib.suppress(Exception):
                    await self.runner.run(
                        _run_finished,
                        run_id,
                        self.report.finished_at,
                        self.report.ok,
                        json.dumps(self.report.as_dict()),
                    )
            if not opts.dry_run:
                with contextlib.suppress(Exception):
                    await self.runner.run(_lease_release, self._lease_owner)
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

    async def _renew_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            with contextlib.suppress(Exception):
                await self.runner.run(_lease_acquire, self._lease_owner, LEASE_TTL)

    async def _run(self) -> None:
        opts = self.options
        self.progress.start("catalogue", len(self.servers))
        await asyncio.gather(*(self._read_catalog(i) for i in range(len(self.servers))))
        self.progress.finish()
        readable = [i for i, c in enumerate(self.catalogs) if c.error is None]
        if not readable:
            self.report.error = "no server could be read"
            return
        groups = self.groups = _build_groups(
            [self._catalog_or_empty(i) for i in range(len(self.servers))]
        )
        self.report.groups = len(groups.groups)
        users = self._select_users(readable)
        self.report.users = [u.name for u in users]
        write_servers = frozenset(opts.servers) if opts.servers else None

        tracker: _Tracker | None = None
        if not opts.dry_run and self.outbox is not None:
            tracker = _Tracker(self.report, self.outbox, self.progress)
            self.outbox.add_listener(tracker.listener)
        try:
            self.progress.start("users", len(users))
            reads: list[asyncio.Task[_UserRead]] = []
            for n, user in enumerate(users):
                while len(reads) <= min(n + 1, len(users) - 1):  # read one user ahead
                    nxt = users[len(reads)]
                    reads.append(asyncio.create_task(self._read_user(nxt, len(reads), readable)))
                read = await reads[n]
                await self._plan_and_queue(user, read, groups, write_servers, tracker)
                reads[n] = None  # type: ignore[call-overload]  # free the states
                self.progress.advance(1, detail=user.name)
            self.progress.finish()
            if tracker is not None and tracker.pending:
                self.progress.start("writing", len(tracker.pending))
                await tracker.wait(opts.wait_timeout)
                self.progress.finish()
        finally:
            if tracker is not None and self.outbox is not None:
                self.outbox.remove_listener(tracker.listener)

    def _catalog_or_empty(self, i: int) -> ServerCatalog:
        c = self.catalogs[i]
        return c if c.error is None else ServerCatalog(c.name)

    async def _read_catalog(self, i: int) -> None:
        server, catalog = self.servers[i], self.catalogs[i]
        summary = self.report.server(server.name)
        try:
            listing = await read_listing(
                self.readers[i],
                server.config.token,
                catalog,
                ADMIN_BIT,
                build=True,
                page_size=self.options.page_size,
            )
        except PlexError as exc:
            catalog.error = str(exc)
            catalog.items.clear()
            summary.failed += 1
            summary.error(f"not read: {exc}")
            log.warning("sync_server_unreadable", server=server.name, error=str(exc))
        else:
            self.owner_states[i] = listing
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

    def _select_users(self, readable: list[int]) -> list[Any]:
        allow, deny = self.config.sync.allow_users, self.config.sync.deny_users
        found: dict[Any, Any] = {}
        self._access.clear()
        for i in readable:
            try:
                listed = self.users.users(self.servers[i].name)
            except Exception as exc:  # no directory data: the owner alone
                log.warning("sync_users_unknown", server=self.servers[i].name, error=str(exc))
                listed = []
            for user in listed:
                if allow and not _matches(user, allow):
                    continue
                if deny and _matches(user, deny):
                    continue
                if self.options.users and not _matches(user, self.options.users):
                    continue
                found.setdefault(user.id, user)
                self._access.setdefault(user.id, set()).add(i)
        # Owners first (their state is already read), then by name: stable output.
        return sorted(found.values(), key=lambda u: (u.kind != "owner", u.name.casefold()))

    def _is_owner(self, user: Any, i: int) -> bool:
        owner = self.users.owner_of(self.servers[i].name)
        return owner is not None and owner.id == user.id

    async def _read_user(self, user: Any, n: int, readable: list[int]) -> _UserRead:
        started = time.time()
        bits = [0] * len(self.servers)
        states: list[dict[str, Any]] = [{} for _ in self.servers]
        read = _UserRead(UserView(str(user.id), user.name, bits, states), started)

        async def one(i: int) -> None:
            server = self.servers[i]
            summary = self.report.server(server.name)
            if self._is_owner(user, i):
                listing = self.owner_states[i]
                assert listing is not None
                bits[i], states[i] = ADMIN_BIT, listing.states
                summary.compared += listing.compared
                return
            try:
                token = await self.users.token_for(user, server.name)
            except PlexError as exc:
                summary.error(f"no token for {user.name}: {exc}")
                summary.failed += 1
                return
            if not token:
                return  # cannot use this server
            bit = 1 << (n + 1)
            try:
                listing = await read_listing(
                    self.readers[i],
                    token,
                    self.catalogs[i],
                    bit,
                    page_size=self.options.page_size,
                )
            except PlexError as exc:
                summary.error(f"{user.name} not read: {exc}")
                summary.failed += 1
                log.warning(
                    "sync_user_unreadable", server=server.name, user=user.name, error=str(exc)
                )
                return
            bits[i], states[i] = bit, listing.states
            summary.compared += listing.compared

        usable = self._access.get(user.id, set())
        await asyncio.gather(*(one(i) for i in readable if i in usable))
        return read

    async def _plan_and_queue(
        self,
        user: Any,
        read: _UserRead,
        groups: Groups,
        write_servers: frozenset[str] | None,
        tracker: _Tracker | None,
    ) -> None:
        view = read.view
        rows = await self.runner.run(_ledger_rows, view.user_id)
        await asyncio.sleep(0)
        best = best_ledger(rows, groups)
        plan: UserPlan = plan_user(
            view,
            self.catalogs,
            groups,
            best,
            write_servers=write_servers,
            only=self.options.only,
            played_keys=frozenset(r.identity_key for r in rows if r.played),
        )
        await asyncio.sleep(0)
        for server, n in plan.skipped.items():
            self.report.server(server).skipped += n
        changes = plan.changes
        if not self.options.dry_run:
            touched: set[int] = set()
            for start in range(0, max(len(plan.records), 1), CHUNK):
                touched |= await self.runner.run(
                    _commit, view.user_id, read.started, plan.records[start : start + CHUNK], groups
                )
            if touched:
                changes = [
                    c
                    for c, g in zip(plan.changes, plan.change_groups, strict=True)
                    if g not in touched
                ]
                log.info("sync_yielded_to_events", user=user.name, items=len(touched))
        self.report.changes += len(changes)
        if self.options.dry_run or self.outbox is None:
            for change in changes:
                self.planned.append((user.name, change))
                self.report.server(change.server).count(change.action, change.items)
        else:
            for start in range(0, len(changes), FEED):
                batch = changes[start : start + FEED]
                if tracker is not None:
                    await tracker.wait(self.options.wait_timeout, below=MAX_AHEAD - FEED)
                    for change in batch:
                        tracker.expect(view.user_id, change)
                await self.outbox.enqueue([self._write(user, c) for c in batch])
        log.info(
            "sync_user",
            user=user.name,
            items=plan.groups_decided,
            changes=len(changes),
            ledger_records=len(plan.records) if not self.options.dry_run else None,
        )

    @staticmethod
    def _write(user: Any, change: Change) -> Write:
        return Write(
            peer=change.server,
            user_id=str(user.id),
            identity_key=change.identity_key,
            action=change.action,
            rating_key=change.rating_key,
            observed_at=change.observed_at,
            user_name=user.name,
            user_kind=str(getattr(user, "kind", "")),
            time_ms=change.time_ms,
            duration_ms=change.duration_ms,
            title=change.title,
            origin="sync",
            unscrobble_first=change.unscrobble_first,
        )


# --- running it: CLI and inside `serve` ----------------------------------------------------


async def run_standalone(
    config: Config, options: SyncOptions, progress: Progress | None = None
) -> tuple[SyncReport, list[tuple[str, Change]]]:
    """One sync without the HTTP receiver: what `plex-cluster-manager sync` runs."""
    from manager.plex.plextv import PlexTvClient
    from manager.service import build_user_directory

    loop = asyncio.get_running_loop()
    runner = await loop.run_in_executor(None, DbRunner, config.database)
    http = httpx.AsyncClient(
        timeout=config.delivery.timeout,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )
    outbox: Outbox | None = None
    try:
        client_id = await runner.run(db.client_identifier)
        servers = [
            ServerRuntime(
                config=s,
                client=PlexServerClient(
                    s.url, http, client_id, name=s.name, timeout=config.delivery.timeout
                ),
            )
            for s in config.servers
        ]

        async def probe(server: ServerRuntime) -> None:
            try:
                ident = await server.client.identity()
            except PlexError as exc:
                server.mark(False, str(exc))
                log.warning("server_unreachable", server=server.name, error=str(exc))
                return
            server.machine_identifier = ident.machine_identifier
            server.mark(True)

        await asyncio.gather(*(probe(s) for s in servers))
        plextv = PlexTvClient(config.plextv_url, http, client_id)
        users = build_user_directory(plextv, servers)
        await users.refresh()
        unknown = [n for n in options.users if not _known_user(users, n)]
        if unknown:
            raise ValueError(f"unknown user(s): {', '.join(unknown)}")
        pipeline = Pipeline(config, servers, users, runner)
        if not options.dry_run:
            outbox = Outbox(runner, pipeline.deliver, config.delivery)
            pipeline.outbox = outbox
            outbox.start()
        sync = FullSync(config, runner, servers, users, outbox, http, client_id, options, progress)
        report = await sync.run()
        if outbox is not None:
            await outbox.stop()
            outbox = None
        for server in servers:
            summary = report.server(server.name)
            summary.other_requests = max(0, server.client.request_count - summary.write_requests)
        return report, sync.planned
    finally:
        if outbox is not None:
            await outbox.stop()
        await http.aclose()
        runner.close()


def _known_user(users: Any, name: str) -> bool:
    return any(_matches(u, [name]) for u in users.all_users())


def options_from_args(config: Config, args: argparse.Namespace) -> SyncOptions:
    return SyncOptions(
        dry_run=bool(getattr(args, "dry_run", False)),
        users=tuple(getattr(args, "user", None) or ()),
        servers=tuple(getattr(args, "server", None) or ()),
        only=getattr(args, "only", None),
        concurrency=config.sync.concurrency,
        reason="cli",
    )


def run_cli(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`plex-cluster-manager sync`: 0 all synced, 1 something failed (the summary says
    what), 2 bad arguments, 4 another sync is running."""
    out = out or sys.stdout
    options = options_from_args(config, args)
    names = {s.name for s in config.servers}
    bad = [n for n in options.servers if n not in names]
    if bad:
        print(f"plex-cluster-manager sync: unknown server(s): {', '.join(bad)}", file=sys.stderr)
        return 2
    try:
        report, planned = asyncio.run(run_standalone(config, options, progress_for()))
    except SyncBusy as exc:
        print(f"plex-cluster-manager sync: {exc}", file=sys.stderr)
        return 4
    except ValueError as exc:
        print(f"plex-cluster-manager sync: {exc}", file=sys.stderr)
        return 2
    except PlexError as exc:
        print(f"plex-cluster-manager sync: plex.tv: {exc}", file=sys.stderr)
        return 1
    if options.dry_run:
        for user, change in sorted(planned, key=lambda p: (p[1].server, p[0], p[1].title)):
            print(change.describe(user), file=out)
    print(report.render(), file=out)
    out.flush()
    return 0 if report.ok else 1


async def run_in_service(
    service: Any,
    reason: str,
    servers: Sequence[str] = (),
    users: Sequence[str] = (),
) -> SyncReport | None:
    """One sync inside `serve`, sharing its database, outbox, clients and users; `servers`
    and `users` limit it like `sync --server` / `--user`. None: another sync is running."""
    if service.users is not None:
        try:
            await service.users.refresh()
        except PlexError as exc:
            log.warning("sync_users_refresh_failed", error=str(exc))
    options = SyncOptions(
        concurrency=service.config.sync.concurrency,
        reason=reason,
        servers=tuple(servers),
        users=tuple(users),
    )
    sync = FullSync(
        service.config,
        service.runner,
        service.servers,
        service.users,
        service.outbox,
        service.http,
        service.client_id,
        options,
        progress_for_service(),
    )
    try:
        return await sync.run()
    except SyncBusy as exc:
        log.info("sync_skipped", reason=reason, why=str(exc))
        return None


def progress_for_service() -> Progress:
    from manager.sync_report import LogProgress

    return LogProgress()


async def scheduled_syncs(service: Any) -> None:
    """`serve`'s full syncs: at start with `sync.on_start` / UPDATE_ON_START, then on the
    cron schedule. One at a time; real-time events keep flowing meanwhile (same loop)."""
    cfg = service.config.sync
    scheduler = schedule.Scheduler()
    due: list[str] = []
    running: asyncio.Task[Any] | None = None

    def start(reason: str) -> None:
        nonlocal running
        if running is not None and not running.done():
            log.info("sync_skipped", reason=reason, why="a full sync is already running")
            return
        running = asyncio.create_task(run_in_service(service, reason), name=f"full-sync-{reason}")

    if cfg.schedule:
        try:
            schedule_cron(cfg.schedule, lambda: due.append("schedule"), scheduler)
            log.info("sync_scheduled", schedule=cfg.schedule, next_run=str(scheduler.next_run))
        except CronError as exc:
            log.error("sync_schedule_invalid", schedule=cfg.schedule, error=str(exc))
    try:
        if cfg.on_start:
            start("on_start")
        while True:
            scheduler.run_pending()
            while due:
                start(due.pop())
            idle = scheduler.idle_seconds
            await asyncio.sleep(
                SCHEDULER_TICK if idle is None else min(SCHEDULER_TICK, max(0.5, idle))
            )
    finally:
        if running is not None and not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
