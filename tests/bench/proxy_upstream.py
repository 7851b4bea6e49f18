"""The proxy benchmark's upstream: a stand-in Plex (small API answers, 1 GiB files, slow
chunked streams) served by asyncio in its own process, so it never competes for the
benchmark's GIL.

    python tests/bench/proxy_upstream.py PORT [--tls-pem PEM]   # what upstream_process runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.polling import wait_for  # noqa: E402
from tests.support.processes import (  # noqa: E402
    LOCALHOST,
    connectable,
    free_port,
    stop_process,
)

API_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="1">'
    + (b'<Directory key="1" type="movie" title="Movies" agent="tv.plex.agents.movie"/>' * 3)
    + b"</MediaContainer>"
)
GIB = 1 << 30


async def serve(port: int, tls_pem: str | None = None) -> None:
    block = bytes(range(256)) * 4096

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, _, rest = head.partition(b"\r\n")
                lowered = rest.lower()
                if b"content-length:" in lowered:
                    n = int(lowered.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                    await reader.readexactly(n)
                target = line.split(b" ")[1].decode()
                path, _, query = target.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if path == "/file":
                    size = int(params.get("size", GIB))
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
                        b"Content-Length: %d\r\n\r\n" % size
                    )
                    sent = 0
                    while sent < size:
                        take = min(len(block), size - sent)
                        writer.write(block[:take])
                        sent += take
                        await writer.drain()
                elif path == "/chunked":
                    delay, n = float(params.get("delay", "0.5")), int(params.get("n", "6"))
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                    for i in range(n):
                        if i:
                            await asyncio.sleep(delay)
                        writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    if path == "/slow":
                        await asyncio.sleep(float(params.get("delay", "1")))
                    body = b'<MediaContainer size="0"/>' if path.startswith("/:/") else API_BODY
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=utf-8\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, LOCALHOST, port, backlog=1024)]
    if tls_pem:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_pem)
        ctx.set_alpn_protocols(["http/1.1"])
        servers.append(await asyncio.start_server(handle, LOCALHOST, port + 1, ssl=ctx))
    await asyncio.gather(*(srv.serve_forever() for srv in servers))


@contextlib.contextmanager
def upstream_process(tls_pem: Path | None = None) -> Iterator[int]:
    """Plain HTTP on the port returned; with tls_pem also HTTPS (HTTP/1.1 only) on port+1."""
    port = _free_pair() if tls_pem else free_port()
    argv = [sys.executable, __file__, str(port)]
    if tls_pem:
        argv += ["--tls-pem", str(tls_pem)]
    proc = subprocess.Popen(argv)
    try:
        wait_for(lambda: connectable(port), 20)
        yield port
    finally:
        stop_process(proc, 10)


def _free_pair() -> int:
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind((LOCALHOST, port + 1))
            except OSError:
                continue
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, help="plain HTTP here; HTTPS on port + 1")
    parser.add_argument("--tls-pem", help="key and certificate chain for the HTTPS port")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.tls_pem))


if __name__ == "__main__":
    main()
