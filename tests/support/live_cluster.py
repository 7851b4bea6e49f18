"""Real processes for the manager's end-to-end tests and benchmark.

The emulator cluster runs in this process (threads); the manager runs as a subprocess
(`python -m manager serve`) with its own SQLite file; each Plex server gets a real
mitmdump with our addon in front of it, reporting to the manager. All on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakeplex import Cluster
from tests.support.configs import MANAGER_TOKEN, write_config
from tests.support.polling import wait_for
from tests.support.processes import (
    ADDON,
    LOCALHOST,
    ROOT,
    MitmdumpProcess,
    clean_env,
    free_port,
    mitmdump_proxy,
    stop_process,
)


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
        code = stop_process(self.proc, 15)
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


PROXY_READY_TIMEOUT = 40.0  # three mitmdumps and the manager start at once on two cores


def cluster_proxy(upstream: str, manager_url: str, workdir: Path) -> MitmdumpProcess:
    """mitmdump in front of one Plex server, reporting to the manager; not started."""
    return mitmdump_proxy(upstream, workdir, manager=manager_url, token=MANAGER_TOKEN, extra=["-q"])


@contextmanager
def manager_and_proxies(
    cluster: Cluster,
    workdir: Path,
    *,
    manager_via_proxies: bool = False,
    **config: Any,
) -> Iterator[tuple[ManagerProcess, dict[str, MitmdumpProcess]]]:
    """The manager and a mitmdump + addon in front of every server of `cluster`, started
    together (slow on two cores) and stopped on exit; the cluster itself is the caller's.

    manager_via_proxies: the manager reaches each server through its proxy (the original's
    layout), so the proxies are ready before the manager starts.
    """
    port = free_port()
    manager_url = f"http://{LOCALHOST}:{port}"
    proxies = {
        name: cluster_proxy(server.url, manager_url, workdir / f"proxy-{name}")
        for name, server in cluster.servers.items()
    }
    overrides: dict[str, Any] = dict(config)  # more of the manager's config (e.g. users:)
    if manager_via_proxies:
        overrides["servers"] = [
            {"name": name, "url": proxies[name].url, "token": server.owner_token}
            for name, server in cluster.servers.items()
        ]
    manager = ManagerProcess(write_config(cluster, workdir, port, **overrides), workdir, port)
    try:
        for proxy in proxies.values():
            proxy.start(wait=False)
        if not manager_via_proxies:
            manager.start()
        for proxy in proxies.values():
            proxy.wait_ready(PROXY_READY_TIMEOUT)
        if manager_via_proxies:
            manager.start()
        yield manager, proxies
    finally:
        manager.stop()
        for proxy in proxies.values():
            proxy.stop()


def addon_available() -> bool:
    return ADDON.is_file()
