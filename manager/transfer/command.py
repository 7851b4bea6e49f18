"""`plex-cluster-manager export` and `import`: the file on stdout / from a path, progress
and a summary on a terminal (rich) or as plain lines, exit codes like `sync`'s:
0 done, 1 something failed (the summary says what), 2 bad arguments or file, 4 another
sync is running (an import takes the sync lease; an export takes none, it writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from manager.config import Config
from manager.fullsync.console import progress_for, show_report, show_table
from manager.fullsync.engine import SyncBusy
from manager.runtime import Runtime
from manager.servers.errors import MediaServerError
from manager.transfer.document import DocumentError, parse
from manager.transfer.export import ExportResult, export_state
from manager.transfer.restore import ImportRefused, ImportResult, import_state


def add_arguments(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    export = sub.add_parser(
        "export", parents=[common], help="write every user's watched state as JSON to stdout"
    )
    export.add_argument(
        "--user", action="append", default=[], metavar="NAME", help="only this user (repeatable)"
    )
    export.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME",
        help="read only this server (repeatable; the ledger is read too)",
    )
    imp = sub.add_parser("import", parents=[common], help="put an exported state on a server")
    imp.add_argument("file", help="a file written by `export`")
    imp.add_argument("--server", required=True, metavar="NAME", help="the server to write to")
    imp.add_argument("--dry-run", action="store_true", help="print planned changes, write nothing")


async def _export(config: Config, args: argparse.Namespace) -> ExportResult:
    runtime = await Runtime.open(config)
    progress = progress_for()
    try:
        return await export_state(runtime, users=args.user, servers=args.server, progress=progress)
    finally:
        progress.close()
        await runtime.close()


def run_export(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    names = {s.name for s in config.servers}
    bad = [n for n in args.server if n not in names]
    if bad:
        print(f"plex-cluster-manager export: unknown server(s): {', '.join(bad)}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_export(config, args))
    except MediaServerError as exc:
        print(f"plex-cluster-manager export: {exc.target or 'users'}: {exc}", file=sys.stderr)
        return 1
    report = result.report
    known = {n.casefold() for u in result.document.users for n in (u.id, u.name)}
    missing = [n for n in args.user if n.casefold() not in known]
    if missing:
        print(
            f"plex-cluster-manager export: unknown user(s): {', '.join(missing)}", file=sys.stderr
        )
        return 2
    out.write(result.document.to_json() + "\n")
    out.flush()
    took = (report.finished_at or report.started_at) - report.started_at
    rows = [[name, *(str(n) for n in counts)] for name, counts in result.counts.items()]
    notes = [f"{name}: ! {err}" for name, s in report.servers.items() for err in s.errors]
    show_table(
        sys.stderr,
        f"Export: {len(report.users)} users, {report.groups} items, "
        f"from {', '.join(result.document.servers) or 'no server'}, {took:.1f} s",
        ["user", "watched", "resume", "unwatched"],
        rows,
        notes,
    )
    return 0 if report.ok else 1


async def _import(config: Config, args: argparse.Namespace, text: str) -> ImportResult:
    document = parse(text)
    runtime = await Runtime.open(config)
    progress = progress_for()
    try:
        return await import_state(
            runtime,
            document,
            args.server,
            source=args.file,
            dry_run=args.dry_run,
            progress=progress,
        )
    finally:
        progress.close()
        await runtime.close()


def run_import(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        text = Path(args.file).read_text(encoding="utf-8")
        result = asyncio.run(_import(config, args, text))
    except (OSError, DocumentError, ImportRefused) as exc:
        print(f"plex-cluster-manager import: {args.file}: {exc}", file=sys.stderr)
        return 2
    except SyncBusy as exc:
        print(f"plex-cluster-manager import: {exc}", file=sys.stderr)
        return 4
    except MediaServerError as exc:
        print(f"plex-cluster-manager import: {exc.target or 'users'}: {exc}", file=sys.stderr)
        return 1
    for name in result.unknown_users:
        print(f"not in this cluster, skipped: {name}", file=out)
    for user, write in sorted(result.planned, key=lambda p: (p[0], p[1].title)):
        print(write.describe(user), file=out)
    show_report(result.report, out)
    out.flush()
    return 0 if result.report.ok else 1
