"""Real processes for the manager's end-to-end tests and benchmark.

The emulator cluster runs in this process (threads); the manager runs as a subprocess
(`python -m manager serve`) with its own SQLite file; each Plex server gets a real
mitmdump with our addon in front of it, reporting to the manager. All on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.fakeplex import Cluster

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addons" / "plex_cluster.py"
BIN = Path(sys.executable).parent
LOCALHOST = "127.0.0.1"
MANAGER_TOKEN = "e2e-manager-secret-token"
ADDON_READY = "plex-cluster addon ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until predicate() is truthy (eventual consistency, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLUSTER_", "PLEX_", "SSL_", "HTTPS_"))
        and k not in ("UPDATE_ON_START", "DEBUG", "FULL_SYNC_SCHEDULE")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def write_config(cluster: Cluster, workdir: Path, port: int, **overrides: Any) -> Path:
    config: dict[str, Any] = {
        "servers": [
            {"name": s.name, "url": s.url, "token": s.owner_token} for s in cluster.servers.values()
        ],
        "token": MANAGER_TOKEN,
        "listen": f"{LOCALHOST}:{port}",
        "database": f"sqlite:///{workdir / 'manager.db'}",
        "plextv_url": cluster.plextv_url,
        "delivery": {"concurrency": 8, "per_peer": 4, "base_backoff": 0.1, "max_backoff": 0.5},
    }
    config.update(overrides)
    path = workdir / "plex-cluster.yml"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh)
    return path


@dataclass
class ManagerProcess:
    config: Path
    workdir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    _log_offset: int = 0

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "manager.log"

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def start(self, wait_ready: bool = True) -> ManagerProcess:
        argv = [sys.executable, "-m", "manager", "serve", "--config", str(self.config)]
        argv += ["--log-format", "json"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=str(ROOT)
            )
        if wait_ready:
            wait_for(self._ready, 30, "manager ready")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"manager exited early:\n{self.output()[-3000:]}")
        try:
            status = self.status()
        except (httpx.HTTPError, ValueError):
            return False
        return status.get("status") == "ready"

    def stop(self) -> int | None:
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait(5)
        self.proc = None
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def log_lines(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.logs()
            if entry.get("event") == event and all(entry.get(k) == v for k, v in match.items())
        ]

    def status(self) -> dict[str, Any]:
        r = httpx.get(
            f"{self.url}/api/v1/status",
            headers={"Authorization": f"Bearer {MANAGER_TOKEN}"},
            timeout=5,
        )
        r.raise_for_status()
        return dict(r.json())

    def post(self, events: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/events",
            json=events,
            headers={"Authorization": f"Bearer {MANAGER_TOKEN}"},
            timeout=10,
        )


@dataclass
class ProxyProcess:
    """mitmdump in reverse-proxy mode with the Plex Cluster addon."""

    upstream: str
    manager_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mitmdump.log"

    def start(self) -> ProxyProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(BIN / "mitmdump"),
            "--mode",
            f"reverse:{self.upstream}",
            "--listen-host",
            LOCALHOST,
            "-p",
            str(self.port),
            "--set",
            f"confdir={self.workdir / 'conf'}",
            "-s",
            str(ADDON),
            "--set",
            f"cluster_data_dir={self.workdir / 'data'}",
            "--set",
            f"cluster_manager={self.manager_url}",
            "--set",
            f"cluster_manager_token={MANAGER_TOKEN}",
            "--set",
            "cluster_retry_max=1",
            "-q",
        ]
        env = clean_env({"COLUMNS": "400"})
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited early:\n{self.log_path.read_text()[-3000:]}")
            if ADDON_READY not in self.log_path.read_text(errors="replace"):
                return False
            try:
                with socket.create_connection((LOCALHOST, self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(ready, 40, "mitmdump ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def addon_available() -> bool:
    return ADDON.is_file()
