"""The addon's options: registered with mitmproxy's loader, environment variables as fallbacks.

Precedence is mitmproxy's own (`--set` beats config.yaml beats the registered default); the
default is taken from the environment when the variable is set, so the original product's
compose files (`CLUSTER_MANAGER`, `CLUSTER_MANAGER_TOKEN`, `HTTPS_HOST`) keep working.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = "~/.plex-cluster/proxy"
FORWARDED_MODES = ("replace", "append", "off")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    typespec: type
    default: Any
    env: tuple[str, ...]
    help: str
    choices: tuple[str, ...] | None = None
    # A secret's environment value is read when settings are built, never made the
    # option's default: `mitmdump --options` and mitmweb's editor would show defaults.
    secret: bool = False


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "cluster_manager",
        str,
        "",
        ("CLUSTER_MANAGER",),
        "Base URL of the Plex Cluster manager; events go to {URL}/api/v1/events.",
    ),
    OptionSpec(
        "cluster_manager_token",
        str,
        "",
        ("CLUSTER_MANAGER_TOKEN",),
        "Shared secret sent to the manager as 'Authorization: Bearer ...' "
        "(better from the environment: CLUSTER_MANAGER_TOKEN).",
        secret=True,
    ),
    OptionSpec(
        "cluster_data_dir",
        str,
        DEFAULT_DATA_DIR,
        ("PLEX_CLUSTER_DATA_DIR",),
        "Directory for the event spool (and mitmproxy's confdir when it is left at default).",
    ),
    OptionSpec(
        "cluster_server_name",
        str,
        "",
        ("PLEX_CLUSTER_SERVER_NAME", "HTTPS_HOST"),
        "Name of this proxy in events (proxy_name); defaults to HTTPS_HOST.",
    ),
    OptionSpec(
        "cluster_spool_max",
        int,
        100_000,
        ("PLEX_CLUSTER_SPOOL_MAX",),
        "Most events kept while the manager is away; beyond it the oldest 'playing' "
        "heartbeats are dropped first, scrobbles never.",
    ),
    OptionSpec(
        "cluster_retry_max",
        int,
        60,
        ("PLEX_CLUSTER_RETRY_MAX",),
        "Longest wait in seconds between delivery attempts (backoff doubles from 0.5 s).",
    ),
    OptionSpec(
        "cluster_stream_threshold",
        int,
        512 * 1024,
        ("PLEX_CLUSTER_STREAM_THRESHOLD",),
        "Bodies with a Content-Length up to this many bytes are buffered; larger ones, "
        "chunked ones and event streams are streamed straight through.",
    ),
    OptionSpec(
        "cluster_forwarded_for",
        str,
        "replace",
        ("PLEX_CLUSTER_FORWARDED_FOR",),
        "X-Forwarded-For handling: replace (client's own header dropped; right when this "
        "proxy faces the internet), append (behind another trusted proxy), off.",
        FORWARDED_MODES,
    ),
    OptionSpec(
        "cluster_http2",
        bool,
        False,
        ("PLEX_CLUSTER_HTTP2",),
        "Offer HTTP/2 to TLS clients (sets mitmproxy's http2). Off by default: see "
        "docs/proxy.md for what HTTP/2 clients hit in mitmproxy 12.",
    ),
    OptionSpec(
        "cluster_log_level",
        str,
        "info",
        ("PLEX_CLUSTER_LOG_LEVEL",),
        "Level of the addon's own log lines (stderr).",
        LOG_LEVELS,
    ),
    OptionSpec(
        "cluster_log_format",
        str,
        "text",
        ("PLEX_CLUSTER_LOG_FORMAT",),
        "Format of the addon's own log lines: text (key=value) or json.",
        ("text", "json"),
    ),
)


_SPECS = {spec.name: spec for spec in OPTIONS}


def env_default(spec: OptionSpec, environ: Mapping[str, str] | None = None) -> Any:
    env = os.environ if environ is None else environ
    for var in spec.env:
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        if spec.typespec is int:
            try:
                return int(raw)
            except ValueError:
                continue
        if spec.typespec is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            continue
        if spec.choices and raw.lower() not in spec.choices:
            continue
        return raw.lower() if spec.choices else raw
    return spec.default


def register(
    loader: Any, names: tuple[str, ...] | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Register the options named (all when None) with mitmproxy's loader: each addon
    registers its own."""
    for spec in OPTIONS:
        if names is not None and spec.name not in names:
            continue
        loader.add_option(
            spec.name,
            spec.typespec,
            spec.default if spec.secret else env_default(spec, environ),
            spec.help,
            choices=list(spec.choices) if spec.choices else None,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """A snapshot of the options, safe to hand to the delivery thread."""

    manager_url: str
    manager_token: str
    data_dir: Path
    server_name: str
    spool_max: int
    retry_max: float
    stream_threshold: int
    forwarded_for: str
    http2: bool
    log_level: str
    log_format: str

    @property
    def events_url(self) -> str:
        return self.manager_url.rstrip("/") + "/api/v1/events" if self.manager_url else ""

    @classmethod
    def from_options(cls, options: Any, environ: Mapping[str, str] | None = None) -> Settings:
        token = options.cluster_manager_token.strip() or str(
            env_default(_SPECS["cluster_manager_token"], environ)
        )
        return cls(
            manager_url=options.cluster_manager.strip(),
            manager_token=token.strip(),
            data_dir=Path(options.cluster_data_dir).expanduser(),
            server_name=options.cluster_server_name,
            spool_max=max(1, options.cluster_spool_max),
            retry_max=float(max(1, options.cluster_retry_max)),
            stream_threshold=max(0, options.cluster_stream_threshold),
            forwarded_for=options.cluster_forwarded_for,
            http2=options.cluster_http2,
            log_level=options.cluster_log_level,
            log_format=options.cluster_log_format,
        )
