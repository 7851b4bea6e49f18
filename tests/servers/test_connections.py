"""Keep-alive connections with the cheaper idle check (manager/servers/connections.py),
over real sockets, plain and TLS: a connection the server closed while idle is never
reused, an open one is."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest

from manager.servers import connections

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


def _client(verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    http = httpx.AsyncClient(timeout=5, verify=verify)
    assert connections.use_backend(http)
    return http


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(("closes", "connections_made"), [(True, 3), (False, 1)])
def test_an_idle_connection_is_reused_only_while_the_server_keeps_it(
    scheme: str, closes: bool, connections_made: int, tmp_path: Path
) -> None:
    server_tls, client_tls = _tls(tmp_path) if scheme == "https" else (None, None)

    async def main() -> list[int]:
        server, accepted = await _server(closes, server_tls)
        port = server.sockets[0].getsockname()[1]
        async with _client(client_tls or True) as http:
            for _ in range(3):
                assert (await http.get(f"{scheme}://127.0.0.1:{port}/")).text == "ok"
                await asyncio.sleep(0.05)  # a close reaches us meanwhile
        server.close()
        return accepted

    assert len(asyncio.run(main())) == connections_made


def test_only_a_fresh_client_of_this_httpx_takes_the_backend() -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as http:
            assert connections.use_backend(http)
        mock = httpx.MockTransport(lambda _: httpx.Response(200))
        async with httpx.AsyncClient(transport=mock) as http:
            assert not connections.use_backend(http)

    asyncio.run(main())
