"""The stream path, through the launcher the docker image uses (the original's env vars).

One mitmdump serves plain HTTP and TLS (our own certificate) on the same port in front of
an upstream that makes its bytes on the fly: 1 GB downloads, Range, a gated chunked
response, websockets.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.proxy.harness import MediaUpstream, Receiver, WsClient, media_bytes, wait_for
from tests.proxy.tls import make_certificates
from tests.support.processes import LOCALHOST, MitmdumpProcess, free_port, mitmdump_env

MANAGER_SECRET = "JgUNaJ6DcB7FhhYGcUpaa9DwPy"
HOST_NAME = "plex-home.example"
GB = 1_000_000_000
RSS_LIMIT_KB = 150 * 1024


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("launcher")


@pytest.fixture(scope="module")
def proxy(
    media: MediaUpstream, receiver: Receiver, certs: dict[str, Path], workdir: Path
) -> Iterator[MitmdumpProcess]:
    port = free_port()
    env = mitmdump_env(
        {
            "PLEX_IP": LOCALHOST,
            "PLEX_PORT": str(media.port),
            "PLEX_SCHEME": "http",
            "HTTPS_HOST": HOST_NAME,
            "HTTPS_PORT": str(port),
            "SSL_CERTIFICATE": str(certs["fullchain"]),
            "SSL_CERTIFICATE_KEY": str(certs["privkey"]),
            "CLUSTER_MANAGER": receiver.url,
            "CLUSTER_MANAGER_TOKEN": MANAGER_SECRET,
            "PLEX_CLUSTER_DATA_DIR": str(workdir / "data"),
            "PLEX_CLUSTER_LISTEN_HOST": LOCALHOST,
            "HOME": str(workdir / "home"),
        }
    )
    argv = [sys.executable, "-m", "addons.launch", "--set", "cluster_retry_max=1"]
    p = MitmdumpProcess(argv=argv, workdir=workdir, env=env, port=port)
    p.start()
    try:
        yield p
    finally:
        p.stop()


def test_1gb_download_streams_with_flat_memory(proxy: MitmdumpProcess) -> None:
    received = 0
    checked = 0
    with httpx.stream("GET", f"{proxy.url}/file?size={GB}", timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-length"] == str(GB)
        for chunk in resp.iter_raw(1 << 20):
            # spot-check content without hashing a gigabyte
            if checked < 8 and len(chunk) >= 4096:
                assert chunk[:4096] == media_bytes(received, received + 4096)
                checked += 1
            received += len(chunk)
    assert received == GB
    peak = proxy.status_kb("VmHWM")
    assert peak < RSS_LIMIT_KB, f"proxy peaked at {peak // 1024} MiB"


def test_range_request_returns_the_right_bytes(proxy: MitmdumpProcess) -> None:
    start, end = 123_456_789, 123_457_788
    resp = httpx.get(
        f"{proxy.url}/file?size={GB}", headers={"Range": f"bytes={start}-{end}"}, timeout=30
    )
    assert resp.status_code == 206
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{GB}"
    assert resp.content == media_bytes(start, end + 1)


def test_chunked_response_is_not_held_back(proxy: MitmdumpProcess, media: MediaUpstream) -> None:
    """The upstream sends its second chunk only after the client saw the first."""
    gate = media.gate("live-1")
    body = b""
    with httpx.stream("GET", f"{proxy.url}/gated?gate=live-1", timeout=30) as resp:
        chunks = resp.iter_raw()
        body += next(chunks)  # buffering proxy: this never comes, the read times out
        assert body.startswith(b"first")
        gate.set()
        for chunk in chunks:
            body += chunk
    assert body == b"firstrest"


def test_websocket_echo_and_history_is_trimmed(proxy: MitmdumpProcess) -> None:
    ws = WsClient(proxy.port)
    try:
        ws.send(b"hello plex")
        assert ws.receive() == b"hello plex"
        before = proxy.status_kb("VmRSS")
        payload = bytes(range(256)) * 4096  # 1 MiB
        for i in range(64):
            ws.send(payload[i:] + payload[:i])
            assert ws.receive() == payload[i:] + payload[:i]
        grown = proxy.status_kb("VmRSS") - before
    finally:
        ws.close()
    # 128 MiB crossed one socket; kept history would hold all of it
    assert grown < 48 * 1024, f"RSS grew {grown // 1024} MiB over one websocket"


def test_tls_listener_with_own_certificate_and_env_configuration(
    proxy: MitmdumpProcess, media: MediaUpstream, receiver: Receiver, certs: dict[str, Path]
) -> None:
    url = f"https://{LOCALHOST}:{proxy.port}"
    trust = ssl.create_default_context(cafile=str(certs["ca"]))
    with httpx.Client(verify=trust, timeout=15) as client:
        assert client.get(f"{url}/identity").status_code == 200
        receiver.clear()
        media.requests.clear()
        resp = client.get(
            f"{url}/:/scrobble",
            params={"key": "42", "identifier": "com.plexapp.plugins.library"},
            headers={"X-Plex-Token": "tls-token-1234", "X-Plex-Client-Identifier": "tv"},
        )
        assert resp.status_code == 200
    events = wait_for(receiver.events)
    assert len(events) == 1
    assert (events[0]["rating_key"], events[0]["proxy_name"]) == ("42", HOST_NAME)
    assert receiver.received[0].headers["Authorization"] == f"Bearer {MANAGER_SECRET}"
    seen = [h for path, h in media.requests if path.startswith("/:/scrobble")]
    forwarded = {k.lower(): v for k, v in seen[-1].items()}
    assert forwarded["x-forwarded-proto"] == "https"
    # an untrusted client is refused by its own TLS stack: the certificate is ours, not
    # mitmproxy's CA
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/identity", timeout=15)


def test_state_stays_in_the_data_directory(proxy: MitmdumpProcess, workdir: Path) -> None:
    data = workdir / "data"
    assert (data / "mitmproxy" / "mitmproxy-ca.pem").exists()
    assert (data / "spool.sqlite3").exists()
    assert (data / "tls" / "listener.pem").stat().st_mode & 0o077 == 0
    assert not (workdir / "home" / ".mitmproxy").exists()
    assert MANAGER_SECRET not in proxy.output()


def test_launcher_refuses_half_a_certificate(certs: dict[str, Path], workdir: Path) -> None:
    env = mitmdump_env(
        {
            "PLEX_IP": LOCALHOST,
            "SSL_CERTIFICATE": str(certs["fullchain"]),
            "PLEX_CLUSTER_DATA_DIR": str(workdir / "other"),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "addons.launch"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "SSL_CERTIFICATE_KEY" in done.stderr


def test_launcher_default_reaches_plex_over_https(
    certs: dict[str, Path], receiver: Receiver, tmp_path: Path
) -> None:
    """The original proxied to https://PLEX_IP:PLEX_PORT, whose certificate never names
    the LAN address: the launcher's default does the same without verifying it."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certs["fullchain"], certs["privkey"])
    plex = MediaUpstream(tls=tls)
    port = free_port()
    env = mitmdump_env(
        {
            "PLEX_IP": LOCALHOST,
            "PLEX_PORT": str(plex.port),
            "HTTPS_PORT": str(port),
            "CLUSTER_MANAGER": receiver.url,
            "PLEX_CLUSTER_DATA_DIR": str(tmp_path / "data"),
            "PLEX_CLUSTER_LISTEN_HOST": LOCALHOST,
        }
    )
    proxy = MitmdumpProcess(
        argv=[sys.executable, "-m", "addons.launch"], workdir=tmp_path, env=env, port=port
    )
    proxy.start()
    try:
        resp = httpx.get(f"{proxy.url}/identity", timeout=15)
        assert resp.status_code == 200
        assert MediaUpstream.MACHINE_ID.encode() in resp.content
        assert f"reverse proxy to https://{LOCALHOST}:{plex.port}" in proxy.output()
    finally:
        proxy.stop()
        plex.stop()
