"""The manager's configuration for an emulated cluster: one builder for every test.

Delivery retries quickly (tests wait for outcomes, not for backoff); the database is a
SQLite file in the test's directory; the manager token is MANAGER_TOKEN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from manager.config import Config, load_config
from tests.fakeplex import Cluster
from tests.support.processes import LOCALHOST

MANAGER_TOKEN = "e2e-manager-secret-token"


def config_data(cluster: Cluster, workdir: Path, port: int = 0, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "servers": [server_entry(cluster, name) for name in cluster.servers],
        "token": MANAGER_TOKEN,
        "listen": f"{LOCALHOST}:{port}",
        "database": f"sqlite:///{workdir / 'manager.db'}",
        "plextv_url": cluster.plextv_url,
        "delivery": {"concurrency": 8, "per_peer": 4, "base_backoff": 0.1, "max_backoff": 0.5},
    }
    data.update(overrides)
    return data


def server_entry(cluster: Cluster, name: str) -> dict[str, Any]:
    """One server as a user would configure it: Plex with its owner's token, Jellyfin and
    Emby with their admin API key."""
    server, kind = cluster.servers[name], cluster.kind(name)
    if kind == "plex":
        return {"name": name, "url": server.url, "token": server.owner_token}
    return {"name": name, "kind": kind, "url": server.url, "api_key": cluster.api_key(name)}


def write_config(cluster: Cluster, workdir: Path, port: int = 0, **overrides: Any) -> Path:
    """The config as a file (0600, as users are told to keep it), for a manager process."""
    path = workdir / "plex-cluster.yml"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config_data(cluster, workdir, port, **overrides), fh)
    return path


def manager_config(cluster: Cluster, workdir: Path, port: int = 0, **overrides: Any) -> Config:
    """The config as the manager loads it, for an in-process service or sync."""
    return load_config(write_config(cluster, workdir, port, **overrides), env={})
