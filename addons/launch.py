"""Start mitmdump with the addon from the original product's environment variables.

    python -m addons.launch [more mitmdump arguments]

PLEX_IP, PLEX_PORT (32400) and PLEX_SCHEME (https, as the original nginx proxied) name the
Plex server, or PLEX_URL does at once; HTTPS_PORT (32401) is the listening port;
SSL_CERTIFICATE + SSL_CERTIFICATE_KEY (PEM) make the listener present that certificate;
PLEX_CLUSTER_DATA_DIR holds the spool and mitmproxy's confdir. CLUSTER_MANAGER,
CLUSTER_MANAGER_TOKEN and HTTPS_HOST are read by the addon itself, so the secret never
appears on a command line. Everything after the program name is passed to mitmdump last,
so it can override any of this.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from addons.config import DEFAULT_DATA_DIR

ADDON = Path(__file__).resolve().parent / "plex_cluster.py"
TRUE = ("1", "true", "yes", "on")


class LaunchError(Exception):
    pass


def _mitmdump() -> str:
    sibling = Path(sys.executable).parent / "mitmdump"
    if sibling.exists():
        return str(sibling)
    found = shutil.which("mitmdump")
    if not found:
        raise LaunchError("mitmdump not found (install mitmproxy next to this Python)")
    return found


def upstream_url(env: Mapping[str, str]) -> str:
    if env.get("PLEX_URL"):
        return env["PLEX_URL"].rstrip("/")
    ip = env.get("PLEX_IP")
    if not ip:
        raise LaunchError("set PLEX_IP (and PLEX_PORT) or PLEX_URL to the Plex server")
    scheme = env.get("PLEX_SCHEME", "https").lower()
    if scheme not in ("http", "https"):
        raise LaunchError(f"PLEX_SCHEME must be http or https, not {scheme!r}")
    host = f"[{ip}]" if ":" in ip else ip
    return f"{scheme}://{host}:{env.get('PLEX_PORT', '32400')}"


def listener_pem(cert: Path, key: Path, data_dir: Path) -> Path:
    """mitmproxy wants key and chain in one PEM file; write it privately, fresh each start."""
    out = data_dir / "tls" / "listener.pem"
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(out, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.read_bytes().rstrip(b"\n") + b"\n")
        fh.write(cert.read_bytes())
    os.chmod(out, 0o600)
    return out


def build_argv(env: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    upstream = upstream_url(env)
    port = env.get("HTTPS_PORT") or env.get("PLEX_CLUSTER_LISTEN_PORT") or "32401"
    data_dir = Path(env.get("PLEX_CLUSTER_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    argv = [
        _mitmdump(),
        "--mode",
        f"reverse:{upstream}",
        "--listen-port",
        port,
        "-s",
        str(ADDON),
        "--set",
        f"confdir={data_dir / 'mitmproxy'}",
        "--set",
        f"cluster_data_dir={data_dir}",
        "--set",
        "keep_host_header=true",
        # mitmproxy's default kills clients with public addresses; the addon turns it off
        # too, but only once loaded, after the listener is already open.
        "--set",
        "block_global=false",
        # The addon sets this too, but only once it has loaded: from the first connection.
        "--set",
        f"http2={'true' if env.get('PLEX_CLUSTER_HTTP2', '').lower() in TRUE else 'false'}",
    ]
    if env.get("PLEX_CLUSTER_LISTEN_HOST"):
        argv += ["--listen-host", env["PLEX_CLUSTER_LISTEN_HOST"]]
    if upstream.startswith("https://"):
        # Plex's certificate names *.plex.direct, never the LAN address we dial.
        argv += ["--set", "ssl_insecure=true"]
    cert, key = env.get("SSL_CERTIFICATE"), env.get("SSL_CERTIFICATE_KEY")
    if bool(cert) != bool(key):
        raise LaunchError("set both SSL_CERTIFICATE and SSL_CERTIFICATE_KEY, or neither")
    if cert and key:
        pem = listener_pem(Path(cert), Path(key), data_dir)
        argv += ["--set", f"certs=*={pem}"]
    return argv + list(extra)


def main(args: Sequence[str] | None = None) -> None:
    try:
        argv = build_argv(os.environ, sys.argv[1:] if args is None else args)
    except (LaunchError, OSError) as exc:
        print(f"plex-cluster proxy: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
