"""The addon's own log lines: level and format (`cluster_log_level`, `cluster_log_format`).

First in the list: until its options are known every other addon already logs through the
redacting setup with the defaults.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import ctx

from addons import config
from manager.logs import configure_logging

OPTIONS = ("cluster_log_level", "cluster_log_format")


class LogSetup:
    def load(self, loader: Any) -> None:
        configure_logging("text", "INFO")
        config.register(loader, OPTIONS)
        # httpx logs every request at INFO through the root logger mitmdump prints.
        for name in ("httpx", "httpcore", "peewee"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def configure(self, updated: set[str]) -> None:
        if updated & set(OPTIONS):
            configure_logging(ctx.options.cluster_log_format, ctx.options.cluster_log_level.upper())
