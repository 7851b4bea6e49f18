"""mitmproxy entry script for Plex Cluster's proxy.

    mitmdump --mode reverse:http://PLEX_HOST:32400 -p 32401 -s addons/plex_cluster.py \
        --set confdir=/data/mitmproxy --set cluster_manager=URL

mitmproxy loads this file by path, so the repository root is put on sys.path when the
project is not installed; the real work lives in addons.core.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from addons.core import PlexCluster  # noqa: E402

addons = [PlexCluster()]
