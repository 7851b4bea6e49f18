"""Write the sync benchmark's big fixture from a child process.

    .venv/bin/python -m tests.bench.sync_fixture OUT.yaml [--movies N ...] --users U --diverge D

Building the fixture dict and dumping it to YAML costs far more memory than the manager
itself at large sizes (~600 MiB at 100 000 items per server): done in the benchmark's own
process it would be what "peak RSS" measures. In a child, the benchmark's ru_maxrss is the
manager's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from tests.fakeplex.generate import add_size_arguments, big_fixture, sizes_from
from tests.support.processes import ROOT, clean_env

SERVERS = 3


def fixture_arguments(args: argparse.Namespace) -> list[str]:
    """The flags that make the same fixture again (size, users, divergence)."""
    out: list[str] = []
    for name, value in sizes_from(args).items():
        out += [f"--{name}", str(value)]
    out += ["--kinds", getattr(args, "kinds", ",".join(["plex"] * SERVERS))]
    return [*out, "--users", str(args.users), "--diverge", str(args.diverge)]


def write_fixture_in_child(path: Path, args: argparse.Namespace) -> None:
    """Run this module in a child process to write the fixture to `path`."""
    subprocess.run(
        [sys.executable, "-m", "tests.bench.sync_fixture", str(path), *fixture_arguments(args)],
        check=True,
        cwd=str(ROOT),
        env=clean_env(),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.sync_fixture")
    ap.add_argument("out", type=Path)
    add_size_arguments(ap)
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--diverge", type=float, default=0.1)
    ap.add_argument("--kinds", default="plex,plex,plex", help="each server's kind, in order")
    args = ap.parse_args(argv)
    fixture = big_fixture(
        servers=SERVERS,
        users=args.users,
        diverge=args.diverge,
        kinds=tuple(args.kinds.split(",")),
        **sizes_from(args),
    )
    # libyaml's dumper when present: the pure-Python one takes tens of seconds at 100k items.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with args.out.open("w") as fh:
        yaml.dump(fixture, fh, Dumper=dumper)
    return 0


if __name__ == "__main__":
    sys.exit(main())
