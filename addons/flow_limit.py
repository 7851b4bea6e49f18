"""Keep mitmweb's memory bounded over a long session: at most N finished flows.

mitmweb keeps every flow it ever saw until told otherwise; in front of a media server
that is thousands of requests an hour (images, timelines every few seconds). The oldest
finished flows beyond `cluster_web_max_flows` are removed from mitmweb's store (its view
addon's `view.flows.remove`), whatever the view filter shows.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mitmproxy import ctx, flow, http

OPTION = "cluster_web_max_flows"
DEFAULT_MAX_FLOWS = 500


class FlowLimit:
    def __init__(self) -> None:
        self._finished: deque[str] = deque()  # flow ids, oldest first

    def load(self, loader: Any) -> None:
        loader.add_option(
            OPTION, int, DEFAULT_MAX_FLOWS,
            "mitmweb: keep at most this many finished flows (older ones are dropped).",
        )  # fmt: skip

    def response(self, f: http.HTTPFlow) -> None:
        self._finished_one(f)

    def error(self, f: http.HTTPFlow) -> None:
        self._finished_one(f)

    def websocket_end(self, f: http.HTTPFlow) -> None:
        self._finished_one(f)

    def _finished_one(self, f: flow.Flow) -> None:
        view = ctx.master.addons.get("view")
        if view is None:  # mitmdump keeps no flows: nothing to bound
            return
        self._finished.append(f.id)
        limit = max(1, int(getattr(ctx.options, OPTION, DEFAULT_MAX_FLOWS)))
        old: list[flow.Flow] = []
        while len(self._finished) > limit:
            found = view.get_by_id(self._finished.popleft())
            if found is not None:  # already removed from the UI otherwise
                old.append(found)
        if old:
            view.remove(old)
