"""`plex-cluster-manager sync`: one full sync on the runtime, without the HTTP receiver.

Exit codes: 0 all synced, 1 something failed (the summary says what), 2 bad arguments,
4 another sync is running.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from manager.config import Config
from manager.fullsync.console import progress_for, show_report
from manager.fullsync.engine import SyncBusy, SyncOptions
from manager.fullsync.plan import PlannedWrite
from manager.fullsync.read import matches
from manager.fullsync.report import Progress, SyncReport
from manager.runtime import Runtime
from manager.servers.errors import MediaServerError

Planned = list[tuple[str, PlannedWrite]]


def options_from_args(config: Config, args: argparse.Namespace) -> SyncOptions:
    return SyncOptions(
        dry_run=bool(getattr(args, "dry_run", False)),
        users=tuple(getattr(args, "user", None) or ()),
        servers=tuple(getattr(args, "server", None) or ()),
        only=getattr(args, "only", None),
        concurrency=config.sync.concurrency,
        reason="cli",
        changed_only=bool(getattr(args, "changed", False)),
    )


async def run_standalone(
    config: Config, options: SyncOptions, progress: Progress | None = None
) -> tuple[SyncReport, Planned]:
    """One sync: the runtime's servers and users, no receiver; writes through its outbox."""
    runtime = await Runtime.open(config)
    try:
        await asyncio.gather(*(runtime.probe(s) for s in runtime.servers))
        await runtime.directory.refresh()
        everyone = runtime.directory.all_users()
        unknown = [n for n in options.users if not any(matches(u, [n]) for u in everyone)]
        if unknown:
            raise ValueError(f"unknown user(s): {', '.join(unknown)}")
        if not options.dry_run:
            runtime.outbox.start()
        sync = runtime.full_sync(options, progress, writes=not options.dry_run)
        report = await sync.run()
        await runtime.outbox.stop()
        for server in runtime.servers:
            summary = report.server(server.name)
            summary.other_requests = max(0, server.api.request_count - summary.write_requests)
        return report, sync.planned
    finally:
        await runtime.close()


def run_sync_command(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    options = options_from_args(config, args)
    names = {s.name for s in config.servers}
    bad = [n for n in options.servers if n not in names]
    if bad:
        print(f"plex-cluster-manager sync: unknown server(s): {', '.join(bad)}", file=sys.stderr)
        return 2
    progress = progress_for()
    try:
        report, planned = asyncio.run(run_standalone(config, options, progress))
    except SyncBusy as exc:
        print(f"plex-cluster-manager sync: {exc}", file=sys.stderr)
        return 4
    except ValueError as exc:
        print(f"plex-cluster-manager sync: {exc}", file=sys.stderr)
        return 2
    except MediaServerError as exc:
        print(
            f"plex-cluster-manager sync: {exc.target or 'user directory'}: {exc}", file=sys.stderr
        )
        return 1
    finally:
        progress.close()
    if options.dry_run:
        for user, write in sorted(planned, key=lambda p: (p[1].server, p[0], p[1].title)):
            print(write.describe(user), file=out)
    show_report(report, out)
    out.flush()
    return 0 if report.ok else 1
