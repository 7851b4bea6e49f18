"""python -m tests.fakeplex --fixture demo: start a cluster, print one JSON line, serve."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from .cluster import start_cluster


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fakeplex", description=__doc__)
    ap.add_argument("--fixture", default="demo", help="fixture name or YAML path")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument(
        "--port-base",
        type=int,
        default=0,
        help="plex.tv on this port, servers on the next ones (default 0: free ports)",
    )
    args = ap.parse_args(argv)
    cluster = start_cluster(args.fixture, host=args.host, port_base=args.port_base)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # The pid: a benchmark reads the servers' CPU time (tests/bench/cpu_use.py).
    print(json.dumps({**cluster.describe(), "pid": os.getpid()}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
