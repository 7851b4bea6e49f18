"""JSON shapes of one Jellyfin/Emby server: items (BaseItemDto), users, libraries.

Both servers leave null members out. Fields the real servers only fill when asked through
`Fields=` (ProviderIds, Path, DateCreated, SortName, ParentId, …) are left out of list answers
unless asked; a single-item read gets them all, as the servers' default DtoOptions do.
"""

from __future__ import annotations

from typing import Any

from .library import JItem

# The fixture is a fixed world; every item was "added" at this instant.
DATE_CREATED = "2024-01-01T00:00:00.0000000Z"
DATE_CREATED_EPOCH = 1_704_067_200.0
ALL_FIELDS = frozenset({"providerids", "path", "datecreated", "sortname", "parentid", "etag"})


def item_dto(
    item: JItem,
    *,
    server_id: str,
    fields: frozenset[str],
    user_data: dict[str, Any] | None,
) -> dict[str, Any]:
    d: dict[str, Any] = {"Name": item.name, "ServerId": server_id, "Id": item.id}
    if "etag" in fields:
        d["Etag"] = item.id[:32]
    if "datecreated" in fields:
        d["DateCreated"] = DATE_CREATED
    if "sortname" in fields:
        d["SortName"] = item.sort_name
    if item.year is not None:
        d["ProductionYear"] = item.year
    if item.runtime_ticks:
        d["RunTimeTicks"] = item.runtime_ticks
    if "path" in fields and item.is_leaf:
        d["Path"] = f"/media/{item.key}.mkv"
    d["IsFolder"] = not item.is_leaf
    if "parentid" in fields and item.parent_id:
        d["ParentId"] = item.parent_id
    d["Type"] = item.type
    if item.collection_type:
        d["CollectionType"] = item.collection_type
    if "providerids" in fields and item.type != "CollectionFolder":
        d["ProviderIds"] = dict(item.provider_ids)
    if item.index is not None:
        d["IndexNumber"] = item.index
    if item.parent_index is not None:
        d["ParentIndexNumber"] = item.parent_index
    if item.series is not None:
        d["SeriesName"] = item.series.name
        d["SeriesId"] = item.series.id
    if item.season is not None:
        d["SeasonId"] = item.season.id
        d["SeasonName"] = item.season.name
    if item.type == "Season" and item.series is not None:
        d["ParentId"] = item.series.id
    if item.is_leaf:
        d["MediaType"] = "Video"
        d["LocationType"] = "FileSystem"
    else:
        d["ChildCount"] = len(item.children)
    if user_data is not None:
        d["UserData"] = user_data
    return d


def user_dto(
    *, user_id: str, name: str, server_id: str, is_admin: bool, dialect: str
) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "IsAdministrator": is_admin,
        "IsHidden": False,
        "IsDisabled": False,
        "EnableAllFolders": True,
        "EnableMediaPlayback": True,
        "EnableRemoteAccess": True,
    }
    if dialect == "jellyfin":
        # Jellyfin's UserPolicy carries the auth providers as non-null strings.
        policy["AuthenticationProviderId"] = (
            "Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider"
        )
        policy["PasswordResetProviderId"] = (
            "Jellyfin.Server.Implementations.Users.DefaultPasswordResetProvider"
        )
    return {
        "Name": name,
        "ServerId": server_id,
        "Id": user_id,
        "HasPassword": True,
        "HasConfiguredPassword": True,
        "HasConfiguredEasyPassword": False,
        "EnableAutoLogin": False,
        "Configuration": {"PlayDefaultAudioTrack": True, "HidePlayedInLatest": True},
        "Policy": policy,
    }


def virtual_folder(view: JItem) -> dict[str, Any]:
    return {
        "Name": view.name,
        "Locations": [f"/media/{view.name.lower().replace(' ', '-')}"],
        "CollectionType": view.collection_type,
        "ItemId": view.id,
        "Id": view.id,
        "LibraryOptions": {},
    }
