"""The mitmdump processes a proxy benchmark run starts, remembered so that all of them are
stopped at exit, even when a measurement fails."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.polling import wait_for
from tests.support.processes import MitmdumpProcess, connectable, mitmdump_proxy

started: list[MitmdumpProcess] = []  # stopped at exit even when a measurement fails


def start(proxy: MitmdumpProcess) -> MitmdumpProcess:
    started.append(proxy)
    proxy.start()
    return proxy


def bare(upstream: str, workdir: Path, extra: list[str] | None = None) -> MitmdumpProcess:
    p = mitmdump_proxy(upstream, workdir, addon=False, extra=["-q", *(extra or [])])
    started.append(p)
    p.start(wait=False)
    wait_for(lambda: connectable(p.port), 30)
    time.sleep(0.5)
    return p


def stop_started() -> None:
    for proxy in started:
        proxy.stop()
