"""Read endpoints: system info, login, users, libraries, items, shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakeplex.transport import Response

from .auth import Caller, client_info
from .base import Ctx, JError, json_response
from .library import JItem
from .query import fields_of, page_result, select, wants_user_data
from .render import ALL_FIELDS, item_dto, user_dto, virtual_folder

if TYPE_CHECKING:
    from .server import FakeJellyfin

    _Base = FakeJellyfin
else:
    _Base = object


class ReadsMixin(_Base):
    # ------------------------------------------------------------------ system
    def _public_info(self) -> dict[str, Any]:
        return {
            "LocalAddress": self.url,
            "ServerName": self.friendly_name,
            "Version": self.version,
            "ProductName": self.product_name,
            "OperatingSystem": "Linux",
            "Id": self.server_id,
            "StartupWizardCompleted": True,
        }

    def system_info_public(self, ctx: Ctx) -> Response:
        return json_response(self._public_info())

    def ping(self, ctx: Ctx) -> Response:
        return json_response(self.product_name)

    def system_info(self, ctx: Ctx) -> Response:
        info = self._public_info()
        info.update(
            {
                "OperatingSystemDisplayName": "Linux",
                "HasPendingRestart": False,
                "IsShuttingDown": False,
                "SupportsLibraryMonitor": True,
                "WebSocketPortNumber": self.port,
                "CanSelfRestart": True,
                "CanLaunchWebBrowser": False,
                "HasUpdateAvailable": False,
            }
        )
        return json_response(info)

    # ------------------------------------------------------------------ users
    def _user(self, uid: str) -> dict[str, Any]:
        account = self._account_of_id[uid]
        return user_dto(
            user_id=uid,
            name=self.display_names[account],
            server_id=self.server_id,
            is_admin=self.is_admin(uid),
            dialect=self.dialect,
        )

    def authenticate_by_name(self, ctx: Ctx) -> Response:
        body = ctx.body()
        name = str(body.get("username") or "")
        pw = str(body.get("pw") or "")
        account = next(
            (a for a, n in self.display_names.items() if n.lower() == name.lower()), None
        )
        if account is None or self.passwords.get(account) != pw:
            raise JError(401, "Invalid username or password entered.")
        info = client_info(ctx.req.headers, ctx.query)
        uid = self.user_ids[account]
        token = self.user_tokens[account]
        caller = Caller(token=token, user_id=uid, is_admin=self.is_admin(uid), info=info)
        session = self._touch_session(caller)
        return json_response(
            {
                "User": self._user(uid),
                "SessionInfo": self._session_dto(session),
                "AccessToken": token,
                "ServerId": self.server_id,
            }
        )

    def users_public(self, ctx: Ctx) -> Response:
        return json_response([self._user(uid) for uid in self.user_ids.values()])

    def users_list(self, ctx: Ctx) -> Response:
        if not ctx.me.is_admin:
            raise self._forbidden()
        return json_response([self._user(uid) for uid in self.user_ids.values()])

    def users_query(self, ctx: Ctx) -> Response:
        if not ctx.me.is_admin:
            raise self._forbidden()
        users = [self._user(uid) for uid in self.user_ids.values()]
        return json_response({"Items": users, "TotalRecordCount": len(users)})

    def users_me(self, ctx: Ctx) -> Response:
        if ctx.me.user_id is None:  # an API key is nobody
            raise JError(400, "Current user not found")
        return json_response(self._user(ctx.me.user_id))

    def user_by_id(self, ctx: Ctx) -> Response:
        uid = self.act_for(ctx, ctx.groups[0])
        assert uid is not None
        return json_response(self._user(uid))

    # ------------------------------------------------------------------ libraries
    def _views(self, uid: str | None) -> list[JItem]:
        return [v for v in self.library.views if self.visible(uid, v)]

    def _views_result(self, ctx: Ctx, uid: str) -> Response:
        dtos = [self._dto(ctx, v, uid, ALL_FIELDS) for v in self._views(uid)]
        return json_response(page_result(dtos, len(dtos), 0))

    def user_views(self, ctx: Ctx) -> Response:
        return self._views_result(ctx, self.required_user(ctx, ctx.groups[0]))

    def user_views_query(self, ctx: Ctx) -> Response:
        return self._views_result(ctx, self.required_user(ctx, ctx.q("userId")))

    def virtual_folders(self, ctx: Ctx) -> Response:
        if not ctx.me.is_admin:
            raise self._forbidden()
        return json_response([virtual_folder(v) for v in self.library.views])

    def virtual_folders_query(self, ctx: Ctx) -> Response:
        if not ctx.me.is_admin:
            raise self._forbidden()
        folders = [virtual_folder(v) for v in self.library.views]
        return json_response({"Items": folders, "TotalRecordCount": len(folders)})

    # ------------------------------------------------------------------ items
    def _dto(
        self, ctx: Ctx, item: JItem, uid: str | None, fields: frozenset[str]
    ) -> dict[str, Any]:
        ud = None
        if uid is not None and wants_user_data(ctx) and item.type != "CollectionFolder":
            ud = self.user_data_dto(uid, item)
        return item_dto(item, server_id=self.server_id, fields=fields, user_data=ud)

    def _query(self, ctx: Ctx, uid: str | None) -> Response:
        recursive = (ctx.q("Recursive") or "").lower() == "true"
        parent_raw = ctx.q("ParentId")
        with self._lock:
            if parent_raw is not None:
                parent = self.find_item(parent_raw, uid)
                pool = self.library.descendants(parent) if recursive else list(parent.children)
            elif recursive or ctx.q("Ids"):
                pool = [
                    i
                    for i in self.library.items.values()
                    if i.type != "CollectionFolder" and self.visible(uid, i)
                ]
            else:  # the root's children are the user's libraries
                pool = self._views(uid)
            data_of = None
            if uid is not None:
                store, user = self._data, uid
                data_of = lambda i: store.get(user, i.id)  # noqa: E731
            page, total, start = select(ctx, pool, data_of)
            fields = fields_of(ctx)
            dtos = [self._dto(ctx, i, uid, fields) for i in page]
        return json_response(page_result(dtos, total, start))

    def items(self, ctx: Ctx) -> Response:
        return self._query(ctx, self.act_for(ctx, ctx.q("userId")))

    def user_items(self, ctx: Ctx) -> Response:
        return self._query(ctx, self.act_for(ctx, ctx.groups[0]))

    def item_by_id(self, ctx: Ctx) -> Response:
        uid = self.act_for(ctx, ctx.q("userId"))
        item = self.find_item(ctx.groups[0], uid)
        return json_response(self._dto(ctx, item, uid, ALL_FIELDS))

    def user_item_by_id(self, ctx: Ctx) -> Response:
        uid = self.act_for(ctx, ctx.groups[0])
        item = self.find_item(ctx.groups[1], uid)
        return json_response(self._dto(ctx, item, uid, ALL_FIELDS))

    def _series(self, ctx: Ctx, uid: str | None) -> JItem:
        series = self.find_item(ctx.groups[0], uid)
        if series.type != "Series":
            raise JError(404, "Series not found")
        return series

    def show_episodes(self, ctx: Ctx) -> Response:
        uid = self.act_for(ctx, ctx.q("userId"))
        series = self._series(ctx, uid)
        episodes = series.leaves
        season_id = ctx.q("SeasonId")
        season_no = ctx.q("Season")
        if season_id is not None:
            episodes = [e for e in episodes if e.season is not None and e.season.id == season_id]
        if season_no is not None:
            episodes = [e for e in episodes if str(e.parent_index) == season_no]
        with self._lock:
            data_of = None
            if uid is not None:
                store, user = self._data, uid
                data_of = lambda i: store.get(user, i.id)  # noqa: E731
            page, total, start = select(ctx, episodes, data_of, leaves_in_order=True)
            dtos = [self._dto(ctx, e, uid, fields_of(ctx)) for e in page]
        return json_response(page_result(dtos, total, start))

    def show_seasons(self, ctx: Ctx) -> Response:
        uid = self.act_for(ctx, ctx.q("userId"))
        series = self._series(ctx, uid)
        with self._lock:
            dtos = [self._dto(ctx, s, uid, fields_of(ctx)) for s in series.children]
        return json_response(page_result(dtos, len(dtos), 0))
