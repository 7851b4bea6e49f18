"""`plex-cluster-manager serve|sync|export|import|webhook-url` (also `python -m manager`).

`serve` runs the service (manager.app); `sync` runs one full sync on the same runtime and
prints its summary: exit 0 all synced, 1 something failed (the summary says what), 2 bad
arguments, 4 another sync is running. `export` and `import` (manager.transfer) write and
read every user's state as a file, with the same codes. `webhook-url SERVER` prints the
URL to paste into that server's webhook settings (see webhook_help.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from manager.config import Config, ConfigError, default_config_path, load_config
from manager.logs import LOG_FORMATS, configure_logging, get_logger
from manager.model import ONLY


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plex-cluster-manager",
        description="Keeps watched state and resume points in sync across Plex servers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=None,
        help="YAML config file (default: $PLEX_CLUSTER_CONFIG, the original's "
        "/config/plex-cluster-manager.yml if present, else config/plex-cluster.yml)",
    )
    common.add_argument("--log-format", choices=LOG_FORMATS, default=None)
    sub.add_parser("serve", parents=[common], help="receive proxy events and sync in real time")
    sync = sub.add_parser("sync", parents=[common], help="run one full sync and exit")
    sync.add_argument("--dry-run", action="store_true", help="print planned changes, write nothing")
    sync.add_argument(
        "--changed",
        action="store_true",
        help="only items played or resumed since the last sync that ended well (full if none)",
    )
    sync.add_argument(
        "--user", action="append", default=[], metavar="NAME", help="only this user (repeatable)"
    )
    sync.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME",
        help="only write to this server (repeatable)",
    )
    sync.add_argument(
        "--only",
        choices=tuple(ONLY),
        default=None,
        help="only watched/unwatched marks, or only resume points",
    )
    hook = sub.add_parser(
        "webhook-url",
        parents=[common],
        help="print the URL to paste into a server's webhook settings",
    )
    hook.add_argument("server", metavar="SERVER", help="the server's name in the config")
    hook.add_argument(
        "--base",
        default=None,
        metavar="URL",
        help="how that server reaches the manager, e.g. http://manager:3400 "
        "(default: this host and the configured listen port)",
    )
    from manager.transfer.command import add_arguments

    add_arguments(sub, common)
    return parser


def _warn_if_readable_by_others(path: str) -> None:
    """The config holds owner tokens: say so when others can read it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o077:
        get_logger("manager.cli").warning(
            "config_readable_by_others",
            path=path,
            mode=oct(mode & 0o777),
            fix=f"chmod 600 {path}",
        )


def _serve(config_path: str, log_format: str | None) -> int:
    config = load_config(config_path)
    configure_logging(log_format or config.log_format, "DEBUG" if config.debug else "INFO")
    _warn_if_readable_by_others(config_path)
    for warning in config.warnings:
        get_logger("manager.cli").warning("config_warning", detail=warning)
    from manager.app.service import serve

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    asyncio.run(main())
    return 0


def _sync(args: argparse.Namespace, config_path: str) -> int:
    from manager.sync_command import run_sync_command
    from manager.transfer.command import run_export, run_import

    config = load_config(config_path)
    # On a terminal the progress bar and the summary say what happens; a line per write
    # would tear the bar apart. Piped or with DEBUG, every line is kept.
    quiet = sys.stderr.isatty() and not config.debug
    level = "DEBUG" if config.debug else "WARNING" if quiet else "INFO"
    configure_logging(args.log_format or config.log_format, level)
    if args.command == "export":
        return run_export(config, args)
    if args.command == "import":
        return run_import(config, args)
    return int(run_sync_command(config, args))


def _webhook_url(config: Config, server: str, base: str | None) -> int:
    from manager.app.webhook_help import webhook_help

    try:
        print(webhook_help(config, server, base))
    except LookupError as exc:
        print(f"plex-cluster-manager: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path = args.config or default_config_path()
    try:
        if args.command == "serve":
            return _serve(path, args.log_format)
        if args.command == "webhook-url":
            return _webhook_url(load_config(path), args.server, args.base)
        return _sync(args, path)
    except ConfigError as exc:
        print(f"plex-cluster-manager: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
