"""Long-lived websockets without growing memory: only the newest message is kept."""

from __future__ import annotations

from mitmproxy import http

from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")


class WebsocketTrim:
    def websocket_message(self, flow: http.HTTPFlow) -> None:
        # mitmproxy keeps every message of a connection; Plex's notification socket lives
        # for hours. Earlier addons (the dumper) have already seen the newest one.
        try:
            if flow.websocket is not None and len(flow.websocket.messages) > 1:
                del flow.websocket.messages[:-1]
        except Exception:
            log.exception("websocket_message hook failed")
