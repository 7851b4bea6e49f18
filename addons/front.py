"""A Plex front end: mitmproxy's defaults set for a reverse proxy facing Plex clients,
HTTP/2 on or off (`cluster_http2`), and who the client is (`cluster_forwarded_for`)."""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx, http

from addons import config, forwarded
from manager.logs import get_logger

log = get_logger("plex_cluster.proxy")
OPTIONS = ("cluster_http2", "cluster_forwarded_for")


class FrontEnd:
    def __init__(self) -> None:
        self.forwarded_for = "replace"

    def load(self, loader: Any) -> None:
        config.register(loader, OPTIONS)
        wanted = {
            # Plex checks Origin and builds URLs against the Host the client used.
            "keep_host_header": True,
            # mitmproxy kills connections from public addresses by default, a guard for
            # forward proxies; this one exists to serve remote Plex clients.
            "block_global": False,
        }
        changes = {
            k: v for k, v in wanted.items() if k in ctx.options and getattr(ctx.options, k) != v
        }
        if changes:
            ctx.options.update(**changes)
            log.info("mitmproxy options set for a Plex front end", **changes)

    def configure(self, updated: set[str]) -> None:
        wanted = ctx.options.cluster_http2
        if "cluster_http2" in updated and "http2" in ctx.options and ctx.options.http2 != wanted:
            ctx.options.http2 = wanted
        if "cluster_forwarded_for" in updated:
            self.forwarded_for = ctx.options.cluster_forwarded_for

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            forwarded.add_forwarded_headers(flow, self.forwarded_for)
        except Exception:
            log.exception("forwarded headers failed; request passes through untouched")
