"""Where the proxy keeps its state (`cluster_data_dir`): the event spool and, unless told
otherwise, mitmproxy's own confdir. Both hold secrets (client tokens, the CA key)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import ctx

from addons import config
from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")

OPTIONS = ("cluster_data_dir",)
DEFAULT_CONFDIR = "~/.mitmproxy"


class DataDir:
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
        if path != self.path:
            self.path = path
            self.on_change(path)
