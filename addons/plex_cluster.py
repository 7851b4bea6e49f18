"""mitmproxy entry script for Plex Cluster's proxy, in front of Plex, Jellyfin or Emby.

    mitmdump --mode reverse:http://PLEX_HOST:32400 -p 32401 -s addons/plex_cluster.py \
        --set confdir=/data/mitmproxy --set cluster_manager=URL
    mitmdump --mode reverse:http://jellyfin:8096 -p 8097 -s addons/plex_cluster.py \
        --set cluster_server_kind=jellyfin --set cluster_manager=URL

mitmproxy loads this file by path, so the repository root is put on sys.path when the
project is not installed. The proxy is a list of small addons, one concern each, each
owning its options (`default_addons`), as mitmproxy composes its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from addons.capture import Capture  # noqa: E402
from addons.data_dir import DataDir  # noqa: E402
from addons.front import FrontEnd  # noqa: E402
from addons.logging_setup import LogSetup  # noqa: E402
from addons.redacting_output import Redaction  # noqa: E402
from addons.server_kind import ServerKind  # noqa: E402
from addons.spooling import EventSpool  # noqa: E402
from addons.streaming import Streaming  # noqa: E402
from addons.websocket import WebsocketTrim  # noqa: E402


def default_addons() -> list[Any]:
    spool = EventSpool()
    kind = ServerKind()
    return [
        LogSetup(),  # first: every other addon logs through its set-up
        FrontEnd(),
        Streaming(),
        DataDir(on_change=spool.use_dir),  # before the spool: it tells it where to live
        Redaction(),
        kind,  # before capture: which paths it recognises
        Capture(spool, kind),
        spool,  # last: its ready line says everything is in place
        WebsocketTrim(),
    ]


addons = default_addons()
