"""A throw-away PostgreSQL server for the database tests, when the machine has one.

initdb + postgres from PATH, trust auth, 127.0.0.1 on a free port, data in a temp dir.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user.
Tests that need it are skipped when the binaries or psycopg2 are missing.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import LOCALHOST, free_port, stop_process


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if importlib.util.find_spec("psycopg2") is None:
        return "psycopg2 not installed (the postgres extra)"
    for tool in ("initdb", "postgres"):
        if shutil.which(tool) is None:
            return f"{tool} not on PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no postgres user to run the server as"
    return None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a DSN for an empty database `plexcluster`."""
    import psycopg2

    root = Path(tempfile.mkdtemp(prefix="pg-"))
    data = root / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*prefix, "initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            *prefix,
            "postgres",
            "-D",
            str(data),
            "-h",
            LOCALHOST,
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "fsync=off",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(
                    host=LOCALHOST, port=port, user="postgres", dbname="postgres"
                )
                break
            except psycopg2.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((root / "server.log").read_text()) from None
                time.sleep(0.1)
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE plexcluster")
        conn.close()
        yield f"postgresql://postgres@{LOCALHOST}:{port}/plexcluster"
    finally:
        stop_process(proc, 15)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
