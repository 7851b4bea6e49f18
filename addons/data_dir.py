"""Where the proxy keeps its state (`cluster_data_dir`): the event spool and, unless told
otherwise, mitmproxy's own confdir. Both hold secrets (client tokens, the CA key)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import ctx

from addons import config
from addons.spool import private_dir
from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")

OPTIONS = ("cluster_data_dir",)
DEFAULT_CONFDIR = "~/.mitmproxy"


class DataDir:
    """mitmproxy creates the data directory first (0755 by umask) when confdir lies in it:
    it is made 0700 here, and so is the confdir inside it."""

    def __init__(self, on_change: Callable[[Path], None]) -> None:
        self.on_change = on_change  # told the directory whenever it changes
        self.path: Path | None = None

    def load(self, loader: Any) -> None:
        config.register(loader, OPTIONS)

    def configure(self, updated: set[str]) -> None:
        if "cluster_data_dir" not in updated:
            return
        path = Path(ctx.options.cluster_data_dir).expanduser()
        if ctx.options.confdir == DEFAULT_CONFDIR:
            confdir = path / "mitmproxy"
            log.warning(
                "confdir was left at ~/.mitmproxy; moving mitmproxy's state under the data "
                "directory (pass --set confdir=... so mitmproxy never creates ~/.mitmproxy)",
                confdir=str(confdir),
            )
            confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
            ctx.options.confdir = str(confdir)
        self._make_private(path, Path(ctx.options.confdir).expanduser())
        if path != self.path:
            self.path = path
            self.on_change(path)

    @staticmethod
    def _make_private(data_dir: Path, confdir: Path) -> None:
        """The data directory holds tokens (spool) and, usually, mitmproxy's CA key."""
        targets = [data_dir]
        if confdir.resolve().is_relative_to(data_dir.resolve()) and confdir.is_dir():
            targets.append(confdir)
        for path in targets:
            try:
                if private_dir(path):
                    log.info("directory made private (0700)", path=str(path))
            except OSError as exc:
                log.warning("could not make directory private", path=str(path), error=str(exc))
