"""`make bench`: run every benchmark in turn; each prints its own numbers.

python -m tests.bench [NAME ...]     # e.g. proxy sync; no name runs them all
"""

from __future__ import annotations

import runpy
import sys
import time

BENCHMARKS = {
    "fakeplex": "tests.bench.bench_fakeplex",
    "index": "tests.bench.bench_index",
    "proxy": "tests.bench.bench_proxy",
    "manager": "tests.bench.bench_manager",
    "sync": "tests.bench.bench_sync",
    "transport": "tests.bench.bench_transport",
    "pages": "tests.bench.bench_pages",
    "mixed": "tests.bench.bench_mixed",
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names or list(BENCHMARKS):
        print(f"\n=== {name} ({BENCHMARKS[name]}) ===", flush=True)
        started = time.monotonic()
        saved_argv = sys.argv
        sys.argv = [BENCHMARKS[name]]
        try:
            runpy.run_module(BENCHMARKS[name], run_name="__main__")
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                print(f"{name}: exited with {exit_.code}")
                return int(exit_.code) if isinstance(exit_.code, int) else 1
        finally:
            sys.argv = saved_argv
        print(f"=== {name}: {time.monotonic() - started:.1f} s ===", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
