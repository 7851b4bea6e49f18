"""The media servers' HTTP client (manager/servers/pools.py) over real sockets, plain and
TLS: a connection the server closed while idle is never reused, an open one is; an
answer that is not HTTP, a server that never answers and one that is not there are each
one `Unreachable` (servers/http.py), never an aiohttp error; a GET whose reused
connection drops is not sent again."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest

from manager.servers.errors import Unreachable
from manager.servers.http import Answer, send
from manager.servers.pools import server_client

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def _tls(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client's that
    trusts it (cryptography comes with mitmproxy)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def _server(
    close_after_answer: bool, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.Server, list[int]]:
    """An HTTP/1.1 server answering every request with keep-alive; it may then close the
    connection anyway, as a server does when its idle timeout runs out. The list counts
    the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(_ANSWER)
                await writer.drain()
                if close_after_answer:
                    # At once, as an idle timeout would: no TLS goodbye to wait for.
                    writer.transport.abort()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls), accepted


def _client(verify: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    return server_client(5, verify or ssl.create_default_context())


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(("closes", "connections_made"), [(True, 3), (False, 1)])
def test_an_idle_connection_is_reused_only_while_the_server_keeps_it(
    scheme: str, closes: bool, connections_made: int, tmp_path: Path
) -> None:
    server_tls, client_tls = _tls(tmp_path) if scheme == "https" else (None, None)

    async def main() -> list[int]:
        server, accepted = await _server(closes, server_tls)
        port = server.sockets[0].getsockname()[1]
        async with _client(client_tls) as http:
            for _ in range(3):
                assert (await http.get(f"{scheme}://127.0.0.1:{port}/")).text == "ok"
                await asyncio.sleep(0.05)  # a close reaches us meanwhile
        server.close()
        return accepted

    assert len(asyncio.run(main())) == connections_made


async def _raw_server(answer: bytes | None) -> asyncio.Server:
    """A server that reads a request and sends `answer` as it is (None: nothing, ever)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer is None:
            await asyncio.sleep(30)
        else:
            writer.write(answer)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "ClientResponseError"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", "ClientPayloadError"),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "ClientResponseError"),
        (None, "timed out"),
    ],
    ids=["not-http", "short-body", "huge-header", "silent"],
)
def test_what_is_not_an_http_answer_is_unreachable(answer: bytes | None, says: str) -> None:
    async def main() -> Unreachable:
        server = await _raw_server(answer)
        port = server.sockets[0].getsockname()[1]
        try:
            async with _client() as http:
                with pytest.raises(Unreachable) as caught:
                    await send(
                        http, "GET", f"http://127.0.0.1:{port}/:/scrobble",
                        headers={"X-Plex-Token": "secret-token"}, params={"key": "1"},
                        timeout=0.5, target="s1",
                    )  # fmt: skip
        finally:
            server.close()
        return caught.value

    error = asyncio.run(main())
    assert says in str(error)
    assert error.target == "s1"
    assert "secret-token" not in str(error) and "key=1" not in str(error)


def test_a_server_that_is_not_there_is_unreachable() -> None:
    async def main() -> None:
        free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = free.sockets[0].getsockname()[1]
        free.close()
        await free.wait_closed()
        async with _client() as http:
            with pytest.raises(Unreachable, match="ClientConnectorError"):
                await send(http, "GET", f"http://127.0.0.1:{port}/identity", headers={})

    asyncio.run(main())


def test_a_get_is_not_sent_again_when_its_reused_connection_drops() -> None:
    """A Plex write is a GET: sent again, a scrobble that landed would count twice. The
    server answers the first request, then drops the connection when the second comes
    (as after a write it carried out): one Unreachable, and the server saw it once."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                seen.append(await reader.readuntil(b"\r\n\r\n"))
                if len(seen) == 2:
                    writer.transport.abort()
                    return
                writer.write(_ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/:/scrobble"
        try:
            async with _client() as http:
                await send(http, "GET", url, headers={}, params={"key": "1"}, target="s1")
                with pytest.raises(Unreachable):
                    await send(http, "GET", url, headers={}, params={"key": "2"}, target="s1")
                await asyncio.sleep(0.1)  # a request sent again would arrive meanwhile
        finally:
            server.close()

    asyncio.run(main())
    assert [r.split(b" ")[1] for r in seen] == [b"/:/scrobble?key=1", b"/:/scrobble?key=2"]


_GZIPPED = gzip.compress(b'{"ok": true}')


async def _recording_server(seen: list[bytes]) -> asyncio.Server:
    """Keeps each request's head and answers it with a gzip-encoded JSON body."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                seen.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                    % len(_GZIPPED)
                    + _GZIPPED
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def _head(raw: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    line, *fields = raw.rstrip(b"\r\n").split(b"\r\n")
    return line, {k.lower(): v for k, v in (f.split(b": ", 1) for f in fields)}


def test_send_puts_the_same_request_on_the_wire_as_the_client_does() -> None:
    """`send` skips httpx's request objects (servers/http.py `_straight`): the server
    must see what the client's own send would have sent (its default headers under ours,
    ours winning whatever their case), and the gzip-encoded answer comes back decoded."""
    seen: list[bytes] = []

    async def main() -> tuple[Answer, httpx.Response]:
        server = await _recording_server(seen)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/:/scrobble"
        ours = {"accept": "application/json", "X-Plex-Token": "t0k3n"}
        try:
            async with _client() as http:
                straight = await send(http, "GET", url, headers=ours, params={"key": "1"})
                through = await http.get(url, headers=ours, params={"key": "1"})
        finally:
            server.close()
        return straight, through

    straight, through = asyncio.run(main())
    assert json.loads(straight.content) == through.json() == {"ok": True}
    assert len(seen) == 2 and _head(seen[0]) == _head(seen[1])
    line, fields = _head(seen[0])
    assert line == b"GET /:/scrobble?key=1 HTTP/1.1"
    assert fields[b"accept"] == b"application/json" and fields[b"x-plex-token"] == b"t0k3n"
    assert fields[b"user-agent"].startswith(b"python-httpx/")


def test_a_proxy_from_the_environment_still_carries_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a proxy for the server's URL, the request goes to the proxy (an absolute URL
    in its request line), not straight to the server."""
    seen: list[bytes] = []
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def main() -> Answer:
        proxy = await _recording_server(seen)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}")
        try:
            async with _client() as http:
                return await send(http, "GET", "http://192.0.2.7:32400/identity", headers={})
        finally:
            proxy.close()

    assert json.loads(asyncio.run(main()).content) == {"ok": True}
    assert _head(seen[0])[0] == b"GET http://192.0.2.7:32400/identity HTTP/1.1"
