"""A whole emulated world: several Plex servers plus plex.tv, started in this process."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

from tests.fakejelly import FakeJellyfin

from .fixture import ClusterSpec, load
from .plextv import FakePlexTV
from .pms import FakeServer

TICKS_PER_MS = 10_000


class Cluster:
    def __init__(self, spec: ClusterSpec, *, host: str = "127.0.0.1", port_base: int = 0):
        self.spec = spec
        self.servers: dict[str, FakeServer | FakeJellyfin] = {}
        # Building 100k+ small objects: cyclic GC passes would dominate the start-up time.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for i, (name, sspec) in enumerate(spec.servers.items()):
                port = port_base + 1 + i if port_base else 0
                if sspec.kind == "plex":
                    self.servers[name] = FakeServer(spec, sspec, bind=host, port=port)
                else:
                    self.servers[name] = FakeJellyfin(
                        spec, sspec, dialect=sspec.kind, bind=host, port=port
                    )
        finally:
            if gc_was_enabled:
                gc.enable()
        # plex.tv knows the Plex servers only.
        self.plex_servers = {n: s for n, s in self.servers.items() if isinstance(s, FakeServer)}
        self.plextv = FakePlexTV(spec, self.plex_servers, bind=host, port=port_base)
        self.users: list[str] = list(spec.accounts)

    def start(self) -> Cluster:
        try:
            self.plextv.start()
            for srv in self.servers.values():
                srv.start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def plextv_url(self) -> str:
        return self.plextv.url

    def account_token(self, username: str) -> str:
        return self.spec.accounts[username].token

    def token_for(self, username: str, server_name: str) -> str:
        """The token that user presents to that server (KeyError if no access); on
        Jellyfin/Emby the access token a login by name returns."""
        return self.servers[server_name].user_tokens[username]

    def owner_of(self, server_name: str) -> str:
        srv = self.servers[server_name]
        return srv.owner if isinstance(srv, FakeJellyfin) else srv.owner.name

    def kind(self, server_name: str) -> str:
        srv = self.servers[server_name]
        return srv.dialect if isinstance(srv, FakeJellyfin) else "plex"

    def jellyfin(self, server_name: str) -> FakeJellyfin:
        srv = self.servers[server_name]
        if not isinstance(srv, FakeJellyfin):
            raise TypeError(f"{server_name} is a Plex server")
        return srv

    def api_key(self, server_name: str) -> str:
        """The admin API key of a Jellyfin/Emby server (TypeError for Plex)."""
        return self.jellyfin(server_name).api_key

    def user_id(self, username: str, server_name: str) -> str:
        """The server's own id of that account: Jellyfin/Emby 32-hex user id; Plex the
        plex.tv account id (PMS's accountID for the owner is 1, for others the plex.tv id)."""
        srv = self.servers[server_name]
        if isinstance(srv, FakeJellyfin):
            return srv.user_ids[username]
        return str(self.spec.accounts[username].id)

    def item_id(self, server_name: str, catalogue_key: str) -> str:
        """The item id (Plex ratingKey) of a catalogue key on that server; KeyError if absent."""
        srv = self.servers[server_name]
        if isinstance(srv, FakeJellyfin):
            return srv.item_id(catalogue_key)
        return srv.find_key(None, catalog=catalogue_key)

    def state(self, server_name: str, username: str, catalogue_key: str) -> dict[str, Any]:
        """One user's state of one title, the same shape for every kind:
        {"kind", "played", "position_ms", "play_count", "last_played_at" (epoch or None)}."""
        srv = self.servers[server_name]
        iid = self.item_id(server_name, catalogue_key)
        if isinstance(srv, FakeJellyfin):
            st = srv.state(username, iid)
            return {
                "kind": srv.dialect,
                "played": st["played"],
                "position_ms": st["position_ticks"] // TICKS_PER_MS,
                "play_count": st["play_count"],
                "last_played_at": st["last_played_at"],
            }
        st = srv.state(username, iid)
        return {
            "kind": "plex",
            "played": st["view_count"] > 0,
            "position_ms": st["view_offset"],
            "play_count": st["view_count"],
            "last_played_at": st["last_viewed_at"],
        }

    def set_state(
        self,
        server_name: str,
        username: str,
        catalogue_key: str,
        *,
        played: bool | None = None,
        position_ms: int | None = None,
        last_played_at: int | None = None,
    ) -> None:
        """Test set-up on any kind (played False also clears the play count)."""
        srv = self.servers[server_name]
        iid = self.item_id(server_name, catalogue_key)
        if isinstance(srv, FakeJellyfin):
            srv.set_state(
                username,
                iid,
                played=played,
                play_count=None if played is None else int(played),
                position_ticks=None if position_ms is None else position_ms * TICKS_PER_MS,
                last_played_at=last_played_at,
            )
            return
        srv.set_state(
            username,
            iid,
            view_count=None if played is None else int(played),
            view_offset=position_ms,
            last_viewed_at=last_played_at,
        )

    def webhook_to(self, server_name: str, url: str | None, **options: Any) -> None:
        """Turn that server's webhooks on (url) or off (None); options per kind: Jellyfin
        body="template"|"all", content_type, template; Emby body="multipart"|"json"."""
        self.servers[server_name].webhook_to(url, **options)

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every server posted the webhooks it queued; False on timeout."""
        return all(s.webhooks.flush(timeout) for s in self.servers.values())

    def describe(self) -> dict[str, Any]:
        return {
            "fixture": self.spec.name,
            "plextv_url": self.plextv_url,
            "users": {
                name: {
                    "id": a.id,
                    "uuid": a.uuid,
                    "account_token": a.token,
                    "managed": a.managed,
                    "home": a.home,
                    "pin": a.pin,
                }
                for name, a in self.spec.accounts.items()
            },
            "servers": [
                self._describe_jellyfin(s)
                if isinstance(s, FakeJellyfin)
                else {
                    "kind": "plex",
                    "name": s.name,
                    "url": s.url,
                    "machineIdentifier": s.machine_identifier,
                    "friendlyName": s.friendly_name,
                    "owner": s.owner.name,
                    "owner_token": s.owner_token,
                    "tokens": dict(s.user_tokens),
                    "sections": [
                        {"id": sec.id, "title": sec.title, "type": sec.type, "agent": sec.agent}
                        for sec in s.library.sections.values()
                    ],
                }
                for s in self.servers.values()
            ],
        }

    @staticmethod
    def _describe_jellyfin(s: FakeJellyfin) -> dict[str, Any]:
        return {
            "kind": s.dialect,
            "name": s.name,
            "url": s.url,
            "serverId": s.server_id,
            "friendlyName": s.friendly_name,
            "version": s.version,
            "owner": s.owner,
            "api_key": s.api_key,
            "users": {
                acct: {
                    "id": s.user_ids[acct],
                    "name": s.display_names[acct],
                    "password": s.passwords[acct],
                    "token": s.user_tokens[acct],
                    "admin": acct == s.owner,
                }
                for acct in s.user_ids
            },
            "libraries": [
                {"id": v.id, "name": v.name, "collection_type": v.collection_type}
                for v in s.library.views
            ],
        }

    def stop(self) -> None:
        # Each listener needs one poll interval to notice; stop them side by side.
        hosts = [srv.stop for srv in self.servers.values()] + [self.plextv.stop]
        threads = [threading.Thread(target=fn, daemon=True) for fn in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(
    fixture: str | Path | dict[str, Any] = "demo", *, host: str = "127.0.0.1", port_base: int = 0
) -> Cluster:
    """Start every server of the fixture plus plex.tv on free ports (or port_base, +1, +2…)."""
    return Cluster(load(fixture), host=host, port_base=port_base).start()
