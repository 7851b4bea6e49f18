"""What `GET /api/v1/status` answers: servers, users, queues, counters, the last full sync."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from manager.runtime import Runtime
from manager.servers.people import CrossKindDirectory
from manager.store import inbox, lease


async def status(runtime: Runtime, ready: bool, started_at: float) -> dict[str, Any]:
    by_peer = await runtime.outbox.depth_by_peer()
    pending = await runtime.runner.run(inbox.count_pending_events)
    last = await runtime.runner.run(lease.last_run)
    if last and last.get("summary"):
        with contextlib.suppress(ValueError):
            last["summary"] = json.loads(last["summary"])
    users: set[str] = set()
    per_server: dict[str, int] = {}
    for server in runtime.servers:
        found = runtime.directory.users(server.name)
        per_server[server.name] = len(found)
        users.update(u.id for u in found)
    return {
        "status": "ready" if ready else "starting",
        "uptime_s": round(time.time() - started_at, 1),
        "servers": [
            {
                "name": s.name,
                "kind": s.config.kind,
                "url": s.config.shown_url,
                # The server's own id (Plex: machineIdentifier), under the name proxies use.
                "machine_identifier": s.server_id,
                "reachable": s.reachable,
                "last_error": s.last_error,
                "last_ok_at": s.last_ok_at,
                "index_items": len(s.index),
                "index_built_at": s.index.built_at,
                "queued_writes": by_peer.get(s.name, 0),
            }
            for s in runtime.servers
        ],
        "users": {
            "known": len(users),
            "per_server": per_server,
            # Users of one kind with no counterpart on another: never guessed, listed here.
            "unmatched": [
                {"name": u.name, "kinds": u.kinds, "reason": u.reason}
                for u in (
                    runtime.directory.unmatched()
                    if isinstance(runtime.directory, CrossKindDirectory)
                    else ()
                )
            ],
        },
        "queue": {
            "writes": sum(by_peer.values()),
            "events_pending": pending,
        },
        "events_handled": runtime.handler.events_handled,
        "writes_delivered": runtime.outbox.delivered,
        "writes_dropped": runtime.outbox.dropped,
        "last_sync": last,
    }
