"""mitmweb entry script: Plex Cluster's proxy, plus what makes mitmweb safe to leave open.

    mitmweb --mode reverse:http://PLEX_HOST:32400 -p 32401 -s addons/plex_cluster_web.py \
        --set cluster_manager=URL --set web_password=… --set view_filter=…

The proxy's own addons (addons/plex_cluster.py) first, then `FlowScrub` (no client token
in a stored flow) and `FlowLimit` (at most `cluster_web_max_flows` flows kept). The launch
line, the view filter for playback requests and reading the flows: docs/proxy.md#mitmweb.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from addons.flow_limit import FlowLimit  # noqa: E402
from addons.flow_scrub import FlowScrub  # noqa: E402
from addons.plex_cluster import default_addons  # noqa: E402

# mitmweb's view filter (`--set view_filter=…`) for the playback requests of every kind:
# Plex's /:/scrobble, unscrobble, timeline, progress (":" also percent-encoded), Jellyfin's
# and Emby's /Sessions/Playing…, PlayingItems, (User)PlayedItems and …Items/{id}/UserData.
# Lower case, so mitmproxy matches it regardless of case.
PLAYBACK_FILTER = (
    '~u "/(:|%3a)/(scrobble|unscrobble|timeline|progress)|/sessions/playing|/playingitems/'
    '|/(user)?playeditems/|items/[^/]+/userdata"'
)


def web_addons() -> list[Any]:
    # Scrub after capture: capture takes the token into its event on the way in.
    return [*default_addons(), FlowScrub(), FlowLimit()]


addons = web_addons()
