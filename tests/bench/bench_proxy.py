"""Proxy benchmark: what the addon costs, against a direct connection and bare mitmdump.

    .venv/bin/python tests/bench/bench_proxy.py [--quick]

Prints numbers and ratios; asserts nothing (a shared 2-core machine is noisy). Measures in
one run: added latency of a small API call (p50/p99) and API requests/s at 1 and 10
connections for direct, bare `mitmdump -q`, mitmdump -q + addon and the addon at default
verbosity (flow lines + redaction); a playback heartbeat through the addon (spool write on
the response path); 1 GiB streaming throughput and peak RSS; first byte of a slow chunked
response; HTTP/2 on the TLS listener (mitmproxy holds at most 5 upstream connections per
client connection, mitmproxy issue 8322).

The parts: proxy_scenarios.py (the HTTP/1.1 scenarios), proxy_http2.py (the TLS listener),
proxy_upstream.py (the stand-in Plex), proxy_measure.py (client and measures),
proxy_processes.py (the mitmdump processes started).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.proxy_http2 import http2_section  # noqa: E402
from tests.bench.proxy_processes import stop_started  # noqa: E402
from tests.bench.proxy_scenarios import run  # noqa: E402
from tests.proxy.harness import Receiver  # noqa: E402
from tests.support.processes import MITMDUMP  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--http2-only", action="store_true", help="only the HTTP/2 section")
    args = parser.parse_args()
    print(f"mitmdump: {MITMDUMP}\n")
    try:
        _measure(args)
    finally:
        stop_started()


def _measure(args: argparse.Namespace) -> None:
    if args.http2_only:
        receiver = Receiver()
        results = {"http2": http2_section(Path(tempfile.mkdtemp(prefix="bench-h2-")), receiver)}
        receiver.down()
    else:
        results = run(args.quick)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
