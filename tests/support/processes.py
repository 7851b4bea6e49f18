"""Real processes on 127.0.0.1 for tests, benchmarks and the demo.

Ports come from the kernel (bind port 0); subprocesses get a clean environment so a
developer's own CLUSTER_/PLEX_/SSL_ settings never leak into a test; mitmdump always runs
with our addon loaded from the working tree unless asked to run bare.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addons" / "plex_cluster.py"
BIN = Path(sys.executable).parent
MITMDUMP = str(BIN / "mitmdump")
READY_LINE = "plex-cluster addon ready"
LOCALHOST = "127.0.0.1"


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now, below the kernel's range for outgoing connections: a port the
    kernel picks (bind to 0) comes from that range, and between our check and the child's
    own bind, a client connection of another test could take it as its local port (seen:
    mitmdump's "address already in use"). Below the range only another free_port can."""
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(20000, max(20001, low))
        with socket.socket() as s:
            try:
                s.bind((LOCALHOST, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def connectable(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1):
            return True
    except OSError:
        return False


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without our own settings, unbuffered, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLUSTER_", "PLEX_", "SSL_", "HTTPS_"))
        and k not in ("UPDATE_ON_START", "DEBUG", "FULL_SYNC_SCHEDULE")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def mitmdump_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # mitmdump cuts URLs at terminal width; keep tokens in view
    return clean_env({"COLUMNS": "400", **(extra or {})})


def stop_process(proc: subprocess.Popen[Any] | None, grace: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` s; its exit code or None."""
    if proc is None or proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


@contextmanager
def emulator_process(fixture: str | Path) -> Iterator[dict[str, Any]]:
    """`python -m tests.fakeplex --fixture FIXTURE` in its own process, so that it neither
    competes for the caller's GIL nor counts in its memory; yields the emulator's own
    description (servers with url, owner_token, tokens; plextv_url)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeplex", "--fixture", str(fixture)],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=str(ROOT),
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        stop_process(proc, 30)


@dataclass
class MitmdumpProcess:
    """A running mitmdump (or the launcher) whose output goes to files in `workdir`.

    pipes=True: the output reaches those files through pipes that this process drains, so
    the child never writes a file itself (a test can limit the child's file sizes).
    """

    argv: list[str]
    workdir: Path
    env: dict[str, str]
    port: int
    pipes: bool = False
    proc: subprocess.Popen[bytes] | None = None
    stdout_path: Path = field(init=False)
    stderr_path: Path = field(init=False)
    _starts_seen: int = 0
    _drains: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / "mitmdump.out"
        self.stderr_path = self.workdir / "mitmdump.err"

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def start(self, wait: bool = True) -> MitmdumpProcess:
        if self.pipes:
            pipe = subprocess.PIPE
            self.proc = subprocess.Popen(
                self.argv, stdout=pipe, stderr=pipe, env=self.env, cwd=str(ROOT)
            )
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self._drains = [
                threading.Thread(target=_drain, args=(src, dst), daemon=True)
                for src, dst in (
                    (self.proc.stdout, self.stdout_path),
                    (self.proc.stderr, self.stderr_path),
                )
            ]
            for t in self._drains:
                t.start()
        else:
            with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
                self.proc = subprocess.Popen(
                    self.argv, stdout=out, stderr=err, env=self.env, cwd=str(ROOT)
                )
        if wait:
            self.wait_ready()
        return self

    def output(self) -> str:
        text = self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        if self.stderr_path.exists():
            text += self.stderr_path.read_text(errors="replace")
        return text

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for this start's ready line, then for the listener (the addon loads after
        the listener opens, but a ready line from an earlier start must not count)."""

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited early:\n{self.output()[-3000:]}")
            return self.output().count(READY_LINE) > self._starts_seen and connectable(self.port)

        wait_for(ready, timeout, "mitmdump ready")
        self._starts_seen += 1

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after 10 s); the exit code, None if it was not running."""
        code = stop_process(self.proc, 10)
        self.proc = None
        self._join_drains()
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        self._join_drains()

    def _join_drains(self) -> None:
        for t in self._drains:  # the pipes end with the process: output() is complete
            t.join(10)
        self._drains = []

    def status_kb(self, field_name: str) -> int:
        """VmRSS (now) or VmHWM (peak) of the process, in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise KeyError(field_name)


def _drain(src: IO[bytes], dst: Path) -> None:
    with src, dst.open("ab") as out:
        while chunk := os.read(src.fileno(), 65536):
            out.write(chunk)
            out.flush()


def mitmdump_proxy(
    upstream: str,
    workdir: Path,
    *,
    manager: str = "",
    token: str = "test-secret",
    addon: bool = True,
    extra: Sequence[str] = (),
    port: int | None = None,
    retry_max: int = 1,
    pipes: bool = False,
) -> MitmdumpProcess:
    """mitmdump in reverse-proxy mode for `upstream`, with our addon reporting to `manager`."""
    port = port or free_port()
    argv = [
        MITMDUMP,
        "--mode",
        f"reverse:{upstream}",
        "--listen-host",
        LOCALHOST,
        "-p",
        str(port),
        "--set",
        f"confdir={workdir / 'conf'}",
    ]
    if addon:
        argv += [
            "-s",
            str(ADDON),
            "--set",
            f"cluster_data_dir={workdir / 'data'}",
            "--set",
            f"cluster_manager={manager}",
            "--set",
            f"cluster_manager_token={token}",
            "--set",
            f"cluster_retry_max={retry_max}",
        ]
    argv += list(extra)
    return MitmdumpProcess(argv=argv, workdir=workdir, env=mitmdump_env(), port=port, pipes=pipes)
