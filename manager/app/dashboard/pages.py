"""What each page shows, gathered from the running manager: its servers, user directory,
outbox and sync runs (the database), and the activity it remembers (activity.py).

Plain data for the templates; no HTML here, no secrets either: server errors and write
reasons pass `redact_text`, and no token, key or cookie is ever put in a page.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import schedule

from manager.app.dashboard.activity import Activity
from manager.config import SyncConfig
from manager.cron import CronError, schedule_cron
from manager.model import ClusterUser
from manager.redaction import redact_text
from manager.runtime import Runtime
from manager.servers.people import CrossKindDirectory
from manager.store import lease, outbox_rows
from manager.store.outbox_rows import Waiting

OUTBOX_SHOWN = 200
RUNS_SHOWN = 10


async def servers(runtime: Runtime, activity: Activity) -> dict[str, Any]:
    by_peer = await runtime.outbox.depth_by_peer()
    rows = []
    for s in runtime.servers:
        last = activity.last_event.get(s.name)
        ways = sorted(activity.ways.get(s.name, ()))
        rows.append(
            {
                "name": s.name,
                "kind": s.config.kind,
                "url": s.config.shown_url,
                "version": s.version,
                "reachable": s.reachable,
                "last_error": redact_text(s.last_error) if s.last_error else None,
                "last_ok_at": s.last_ok_at,
                "item_count": len(s.index),
                "index_built_at": s.index.built_at,
                "queued": by_peer.get(s.name, 0),
                "ways": ways,
                "last_event": last,
                "catching_up": len(s.catch_up_users),
            }
        )
    up = sum(1 for s in runtime.servers if s.reachable)
    return {"servers": rows, "up": up, "total": len(rows)}


@dataclass(frozen=True, slots=True)
class Person:
    user: ClusterUser
    names: dict[str, str]  # server -> their user name there (only where they have access)


def users(runtime: Runtime) -> dict[str, Any]:
    directory = runtime.directory
    names = [s.name for s in runtime.servers]
    crossed = directory if isinstance(directory, CrossKindDirectory) else None
    access: dict[str, dict[str, str]] = {}
    for server in names:
        for user in directory.users(server):
            access.setdefault(user.id, {})[server] = directory.name_on(user, server) or user.name
    people = [
        Person(user, access.get(user.id, {}))
        for user in sorted(directory.all_users(), key=lambda u: (u.kind != "owner", u.name))
    ]
    unmatched = crossed.unmatched() if crossed is not None else []
    return {
        "servers": names,
        "kinds": {s.name: s.config.kind for s in runtime.servers},
        "people": people,
        "unmatched": unmatched,
        "refreshed_at": directory.refreshed_at,
    }


async def outbox(runtime: Runtime) -> dict[str, Any]:
    waiting: list[Waiting] = await runtime.runner.run(outbox_rows.listing, OUTBOX_SHOWN)
    total = await runtime.outbox.depth()
    failing = [w for w in waiting if w.attempts > 0]
    return {
        "rows": [
            {
                "id": w.row_id,
                "peer": w.write.peer,
                "user": w.write.user_name or w.write.user_id,
                "change": w.write.change.value,
                "time_ms": w.write.time_ms,
                "title": w.write.title,
                "origin": w.write.origin,
                "attempts": w.attempts,
                "created_at": w.created_at,
                "next_at": w.next_attempt_at,
                "error": redact_text(w.last_error) if w.last_error else None,
                "blocked": runtime.outbox.peer_blocked(w.write.peer),
            }
            for w in waiting
        ],
        "total": total,
        "failing": len(failing),
        "shown": len(waiting),
        "delivered": runtime.outbox.delivered,
        "dropped": runtime.outbox.dropped,
    }


def next_runs(cfg: SyncConfig) -> list[dict[str, Any]]:
    """When the schedule fires next, worked out the way the service schedules it."""
    out = []
    for cron, what in ((cfg.schedule, "full sync"), (cfg.changed_schedule, "sync of changes")):
        if not cron:
            continue
        scheduler = schedule.Scheduler()
        try:
            schedule_cron(cron, lambda: None, scheduler)
        except CronError as exc:
            out.append({"what": what, "cron": cron, "at": None, "error": str(exc)})
            continue
        when = scheduler.next_run
        out.append({"what": what, "cron": cron, "at": when.timestamp() if when else None})
    return out


async def sync_runs(runtime: Runtime) -> dict[str, Any]:
    runs = await runtime.runner.run(lease.recent_runs, RUNS_SHOWN)
    for run in runs:
        summary = None
        with contextlib.suppress(ValueError, TypeError):
            summary = json.loads(run["summary"]) if run["summary"] else None
        if summary:
            _redact_summary(summary)
        run["summary"] = summary
        kind, _, reason = str(run["kind"]).partition(":")
        run["what"] = "sync of changes" if kind == "changed" else "full sync"
        run["reason"] = reason or "cli"
    holder = await runtime.runner.run(lease.holder)
    return {
        "runs": runs,
        "next": next_runs(runtime.config.sync),
        "on_start": runtime.config.sync.on_start,
        "running": holder,
    }


def _redact_summary(summary: dict[str, Any]) -> None:
    """A run's errors quote what servers answered: no token shown, whatever they said."""
    if summary.get("error"):
        summary["error"] = redact_text(str(summary["error"]))
    for server in (summary.get("servers") or {}).values():
        server["errors"] = [redact_text(str(e)) for e in server.get("errors") or ()]
