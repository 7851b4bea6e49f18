"""PMS playback-state writes (scrobble, timeline, progress) and the admin-ish endpoints."""

from __future__ import annotations

import secrets
import time
from typing import Any

from .fixture import AccountSpec
from .items import Item
from .pms_base import (
    LIBRARY_ID,
    PLAYBACK_STATES,
    RE_KEY_PATH,
    HTTPError,
    ServerBase,
    Session,
    int_param,
    now_s,
)
from .pms_webhooks import WebhooksMixin, timeline_events
from .render import container, element, item_json, item_xml
from .transport import Request, Response


class WritesMixin(WebhooksMixin, ServerBase):
    def _scrobble(self, req: Request, acct: AccountSpec, *, played: bool) -> Response:
        q = req.query
        if q.get("identifier") != LIBRARY_ID or not q.get("key"):
            raise HTTPError(400)
        item = self._lookup(acct, q["key"])
        now = now_s()
        with self._lock:
            if item.is_leaf:
                self._mark(acct.id, item, played, now, always=True)
            else:
                for leaf in item.leaves:
                    self._mark(acct.id, leaf, played, now, always=False)
        return Response(200, b"", None)

    def _mark(self, aid: int, leaf: Item, played: bool, now: int, *, always: bool) -> None:
        if not played:
            self._state.drop(aid, leaf.rating_key)
            return
        st = self._state.mutable(aid, leaf.rating_key)
        if always or st.view_count == 0:
            st.view_count += 1
            st.last_viewed_at = now
        st.view_offset = 0

    def _timeline(self, req: Request, acct: AccountSpec) -> Response:
        q = req.query
        rk = q.get("ratingKey")
        if rk is None and q.get("key"):
            m = RE_KEY_PATH.match(q["key"])
            rk = m.group(1) if m else None
        state = q.get("state")
        t = int_param(q.get("time"))
        if rk is None or state not in PLAYBACK_STATES or t is None or t < 0:
            raise HTTPError(400)
        item = self._lookup(acct, rk)
        if not item.is_leaf:
            raise HTTPError(400)
        duration = int_param(q.get("duration"))
        if duration is not None and duration <= 0:
            duration = None
        offline = q.get("offline") == "1"
        client_id = req.client_id
        # Without a client identifier, or without duration (unless it is a sync client's
        # offline=1 report), PMS answers 200 but records nothing (WatchState's finding;
        # plex-api.rs's offline timelines without duration are stored).
        if not client_id or (duration is None and not offline):
            return self._timeline_reply(req, acct, item)
        if duration is not None and t > duration:
            raise HTTPError(400)
        now = now_s()
        with self._lock:
            self._expire_sessions()
            skey = (acct.id, client_id)
            sess = self._sessions.get(skey)
            if sess is not None and sess.item is not item:
                sess = None
            crossed = duration is not None and t >= self.played_threshold * duration
            scrobbled_now = crossed and (sess is None or not sess.scrobbled)
            events = timeline_events(
                sess.state if sess else None,
                state,
                new_session=sess is None,
                scrobbled_now=scrobbled_now,
            )
            st = self._state.mutable(acct.id, item.rating_key)
            if crossed:
                if scrobbled_now:
                    st.view_count += 1
                st.view_offset = 0
                st.last_viewed_at = now
            elif t > self.min_resume_offset:
                st.view_offset = t
                st.last_viewed_at = now
            if state == "stopped":
                self._sessions.pop(skey, None)
            else:
                if sess is None:
                    sess = Session(
                        session_key=next(self._session_keys),
                        account=acct,
                        client_id=client_id,
                        item=item,
                        state=state,
                        time=t,
                        duration=duration or item.duration or 0,
                        updated=time.monotonic(),
                        product=req.plex("X-Plex-Product") or "Plex Web",
                        platform=req.plex("X-Plex-Platform") or "Chrome",
                        device=req.plex("X-Plex-Device-Name") or "Browser",
                    )
                    self._sessions[skey] = sess
                sess.state = state
                sess.time = t
                sess.updated = time.monotonic()
                sess.scrobbled = sess.scrobbled or crossed
        # Sent after the lock is released: the webhook reads the state it reports.
        player = req.plex("X-Plex-Device-Name") or req.plex("X-Plex-Product") or "Plex Web"
        for event in events:
            self._hook(event, acct, item, position=t, client_id=client_id, player_title=player)
        return self._timeline_reply(req, acct, item)

    def _timeline_reply(self, req: Request, acct: AccountSpec, item: Item) -> Response:
        """PMS answers a timeline report with the caller's resulting state for the item."""
        with self._lock:
            st = self._state.get(acct.id, item.rating_key)
        return container(
            req.wants_json,
            {
                "size": 0,
                "playbackState": "progress",
                "skipCount": 0,
                "viewCount": st.view_count,
                "viewOffset": st.view_offset,
            },
        )

    def _progress(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) == "shared":
            # Invited users get 401 here (WatchState #406); they must use /:/timeline.
            raise HTTPError(401)
        q = req.query
        t = int_param(q.get("time"))
        if not q.get("key") or t is None or t < 0:
            raise HTTPError(400)
        item = self._lookup(acct, q["key"])
        if not item.is_leaf:
            raise HTTPError(400)
        with self._lock:
            st = self._state.mutable(acct.id, item.rating_key)
            if item.duration and t >= self.played_threshold * item.duration:
                st.view_count += 1
                st.view_offset = 0
                st.last_viewed_at = now_s()
            elif t > self.min_resume_offset:
                st.view_offset = t
                st.last_viewed_at = now_s()
        return Response(200, b"", None)

    # ------------------------------------------------------------------ admin-ish
    def _expire_sessions(self) -> None:
        limit = time.monotonic() - self.session_timeout
        for k in [k for k, s in self._sessions.items() if s.updated < limit]:
            del self._sessions[k]

    def _status_sessions(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) != "owner":
            raise HTTPError(401)
        xml: list[str] = []
        js: list[dict[str, Any]] = []
        with self._lock:
            self._expire_sessions()
            for s in self._sessions.values():
                user = {
                    "id": str(self._pms_account_id(s.account)),
                    "thumb": "",
                    "title": s.account.name,
                }
                player = {
                    "address": "127.0.0.1",
                    "device": s.device,
                    "machineIdentifier": s.client_id,
                    "platform": s.platform,
                    "product": s.product,
                    "state": s.state,
                    "title": s.device,
                    "local": True,
                    "relayed": False,
                    "secure": False,
                    "userID": int(user["id"]),
                }
                session = {"id": s.session_id, "bandwidth": 10000, "location": "lan"}
                dyn = {"sessionKey": str(s.session_key), "viewOffset": s.time}
                extra = (
                    element("User", user) + element("Player", player) + element("Session", session)
                )
                xml.append(item_xml(s.item, dyn, False, extra))
                d = item_json(s.item, dyn, False)
                d.update({"User": user, "Player": player, "Session": session})
                js.append(d)
        return container(req.wants_json, {"size": len(js)}, items_xml=xml, items_json=js)

    def _accounts(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) != "owner":
            raise HTTPError(401)
        rows = [
            {
                "id": 1,
                "key": "/accounts/1",
                "name": self.owner.name,
                "defaultAudioLanguage": "en",
                "autoSelectAudio": 1,
                "defaultSubtitleLanguage": "en",
                "subtitleMode": 0,
                "thumb": "",
            }
        ]
        for uname in self.spec.users:
            a = self.accounts[uname]
            rows.append(
                {
                    "id": a.id,
                    "key": f"/accounts/{a.id}",
                    "name": a.name,
                    "defaultAudioLanguage": "en",
                    "autoSelectAudio": 1,
                    "defaultSubtitleLanguage": "en",
                    "subtitleMode": 0,
                    "thumb": "",
                }
            )
        return container(
            req.wants_json,
            {"size": len(rows), "identifier": "com.plexapp.system.accounts"},
            items_xml=[element("Account", r) for r in rows],
            items_json=rows,
            json_key="Account",
        )

    def _security_token(self, req: Request, acct: AccountSpec) -> Response:
        if req.query.get("type") != "delegation":
            raise HTTPError(400)
        tok = "transient-" + secrets.token_hex(16)
        with self._lock:
            self._transient[tok] = acct
        return container(req.wants_json, {"size": 0, "token": tok})
