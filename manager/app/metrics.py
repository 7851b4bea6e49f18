"""`GET /metrics`: the service's numbers in Prometheus' text format (docs/manager.md#metrics).

One `CollectorRegistry` per service, never prometheus-client's global one: two managers in
one process (the tests run several) must not share counters, and the library's own
process/platform collectors would only add noise here.

Counted as they happen: events at the door (by source and kind), write outcomes and
their latency (an outbox listener). Read when scraped: outbox depth, events waiting,
whether each server answers, the last full sync (from the database, so a sync run by the
CLI in another process shows too).

The route takes the manager's bearer token, like every route but `/health`: Prometheus
sends it with `authorization: {credentials_file: …}` in the scrape config.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from manager.event import PlaybackEvent
from manager.runtime import Runtime
from manager.store import inbox, lease
from manager.store.outbox import Attempt, Result

PREFIX = "plex_cluster"
# A write is one request to a peer (two for an unscrobble before a resume point): LAN
# answers take milliseconds, a busy server seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From the change at the source to the peer holding it: under a second when all is well,
# minutes while a peer is down or the user plays the item there.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0)


def source_of(event: PlaybackEvent) -> str:
    """Which door an event came through: the original nginx proxy's payload is named
    `legacy` by its parser, a webhook's `webhook…`; everything else is our addon."""
    name = event.proxy_name or ""
    if name == "legacy":
        return "legacy"
    if name.startswith("webhook"):
        return "webhook"
    return "proxy"


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            f"{PREFIX}_events_received",
            "Valid events accepted at a door (duplicates included), by source and kind.",
            ["source", "kind"],
            registry=r,
        )
        self.writes = Counter(
            f"{PREFIX}_writes",
            "Write attempts settled by the outbox, by peer and outcome "
            "(delivered, skipped, deferred, retry, dropped).",
            ["peer", "outcome"],
            registry=r,
        )
        self.write_seconds = Histogram(
            f"{PREFIX}_write_request_seconds",
            "Time one delivery attempt took (reading the peer, then writing), by peer.",
            ["peer"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.write_lag = Histogram(
            f"{PREFIX}_write_lag_seconds",
            "From the change at its source to its delivery on a peer, by origin.",
            ["origin"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.events_handled = Gauge(
            f"{PREFIX}_events_handled", "Events the real-time handler has finished.", registry=r
        )
        self.events_pending = Gauge(
            f"{PREFIX}_events_pending", "Events stored and not yet processed.", registry=r
        )
        self.outbox_depth = Gauge(
            f"{PREFIX}_outbox_depth", "Writes waiting in the outbox, by peer.", ["peer"], registry=r
        )
        self.reachable = Gauge(
            f"{PREFIX}_peer_reachable",
            "1 when the server answered its last probe, 0 when not (absent: not probed yet).",
            ["server", "kind"],
            registry=r,
        )
        self.sync_seconds = Gauge(
            f"{PREFIX}_full_sync_duration_seconds", "How long the last sync took.", registry=r
        )
        self.sync_changes = Gauge(
            f"{PREFIX}_full_sync_changes", "Writes the last sync decided.", registry=r
        )
        self.sync_ok = Gauge(
            f"{PREFIX}_full_sync_ok", "1 when the last sync ended well, else 0.", registry=r
        )
        self.sync_finished = Gauge(
            f"{PREFIX}_full_sync_last_finished_timestamp_seconds",
            "When the last sync ended (epoch seconds).",
            registry=r,
        )

    # -- counted as it happens ---------------------------------------------------------
    def count_events(self, events: list[PlaybackEvent]) -> None:
        for event in events:
            self.events.labels(source_of(event), event.kind).inc()

    def write_settled(self, attempt: Attempt, result: Result) -> None:
        """An outbox listener: every settled attempt, whatever its origin."""
        w = attempt.write
        self.writes.labels(w.peer, result.verdict.value).inc()
        self.write_seconds.labels(w.peer).observe(result.seconds)
        if result.verdict.value == "delivered":
            self.write_lag.labels(w.origin).observe(max(0.0, time.time() - w.observed_at))

    # -- read when scraped -------------------------------------------------------------
    async def refresh(self) -> None:
        runtime = self.runtime
        self.events_handled.set(runtime.handler.events_handled)
        self.events_pending.set(await runtime.runner.run(inbox.count_pending_events))
        depth = await runtime.outbox.depth_by_peer()
        for server in runtime.servers:
            self.outbox_depth.labels(server.name).set(depth.get(server.name, 0))
            if server.reachable is not None:
                self.reachable.labels(server.name, server.config.kind).set(int(server.reachable))
        last = await runtime.runner.run(lease.last_run)
        if last and last.get("finished_at"):
            summary: dict[str, Any] = {}
            with contextlib.suppress(ValueError, TypeError):
                summary = json.loads(last.get("summary") or "{}")
            self.sync_seconds.set(float(last["finished_at"]) - float(last["started_at"]))
            self.sync_changes.set(int(summary.get("changes", 0)))
            self.sync_ok.set(int(bool(last.get("ok"))))
            self.sync_finished.set(float(last["finished_at"]))

    async def exposition(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)


def mount(app: Starlette, metrics: Metrics, authorized: Callable[[Request], bool]) -> None:
    """Add `GET /metrics` to the service's app (before it starts listening)."""
    app.router.routes.append(Route("/metrics", _endpoint(metrics, authorized), methods=["GET"]))


def _endpoint(
    metrics: Metrics, authorized: Callable[[Request], bool]
) -> Callable[[Request], Awaitable[Response]]:
    """Text, not the JSON answers of the rest of the API."""

    async def endpoint(request: Request) -> Response:
        if not authorized(request):
            return Response(
                b'{"error":"missing or wrong bearer token"}',
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="plex-cluster"'},
            )
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return endpoint
