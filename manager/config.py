"""Manager configuration: YAML file plus the original product's environment variables.

The original `hosts:` list (`host`, `port`, `token`) still loads as is; newer keys are
optional with defaults. Any problem becomes one `ConfigError` line that names the file,
the key and what is wrong, so a bad config stops start-up with a message a user can act on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from manager.config_reader import (
    ConfigError,
    Reader,
    check_url,
    cron_setting,
    database_dsn,
    listen_address,
)
from manager.config_users import UserMapping, user_map
from manager.redaction import redact_text

DEFAULT_PORT = 3400  # what the original manager listened on; old proxies point at it
DEFAULT_PLEXTV = "https://plex.tv"
DEFAULT_DATABASE = "sqlite:///plex-cluster.db"
# Where the original image mounted its config; used when no --config is given.
LEGACY_CONFIG_PATH = "/config/plex-cluster-manager.yml"

ENV_TOKEN = "CLUSTER_MANAGER_TOKEN"
ENV_UPDATE_ON_START = "UPDATE_ON_START"
ENV_DEBUG = "DEBUG"
ENV_SCHEDULE = "FULL_SYNC_SCHEDULE"
ENV_CHANGED_SCHEDULE = "CHANGED_SYNC_SCHEDULE"
ENV_DSN = "PLEX_CLUSTER_DSN"
ENV_LISTEN = "PLEX_CLUSTER_LISTEN"
ENV_PLEXTV = "PLEX_CLUSTER_PLEXTV_URL"
ENV_CONFIG = "PLEX_CLUSTER_CONFIG"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A webhook key travels in a URL as given: URL-safe characters only, and long enough not
# to be guessed.
_WEBHOOK_KEY_RE = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")
WEBHOOK_KEY_LENGTH = 32  # hex digits of a derived key


# The kinds of media server the manager can talk to (manager.servers.kinds builds each).
KINDS = ("plex", "jellyfin", "emby")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str
    url: str  # scheme://host:port, no trailing slash
    token: str  # Plex: the server owner's token; Jellyfin/Emby: an admin API key
    aliases: tuple[str, ...] = ()  # extra host[:port] forms proxies may report (legacy payload)
    kind: str = "plex"
    # The key in this server's webhook URL (config `webhook_key`, else derived_webhook_key).
    webhook_key: str = ""
    webhook_key_derived: bool = False

    @property
    def netloc(self) -> str:
        """host:port, as a proxy reports its upstream: without the URL's user info."""
        return urlsplit(self.url).netloc.rpartition("@")[2].lower()

    @property
    def shown_url(self) -> str:
        """The URL as the status and the dashboard show it: a password in its user info
        (basic auth for a reverse proxy in front of the server) redacted."""
        return redact_text(self.url)


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    concurrency: int = 16
    per_peer: int = 8  # a ceiling: below it, what each server answers decides (pacing)
    max_backoff: float = 300.0
    base_backoff: float = 1.0
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class SyncConfig:
    schedule: str | None = None  # cron form, e.g. "0 2 * * *"
    # Syncs of what changed since the last run (fullsync/changed.py), e.g. "*/15 * * * *".
    changed_schedule: str | None = None
    on_start: bool = False
    allow_users: tuple[str, ...] = ()
    deny_users: tuple[str, ...] = ()
    concurrency: int = 8  # a ceiling: below it, what each server answers decides (pacing)


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    servers: tuple[ServerConfig, ...]
    token: str
    listen_host: str = "0.0.0.0"
    listen_port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    plextv_url: str = DEFAULT_PLEXTV
    same_library_name_only: bool = False
    played_threshold: float = 0.9
    heartbeat_interval: float = 60.0
    debug: bool = False
    log_format: str = "text"
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    # People whose names differ between servers (config `users:`), see UserMapping.
    user_map: tuple[UserMapping, ...] = ()
    warnings: tuple[str, ...] = ()  # accepted but worth a log line at start

    def server(self, name: str) -> ServerConfig:
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)


_TOP_KEYS = {
    "hosts",
    "servers",
    "token",
    "listen",
    "database",
    "plextv_url",
    "same_library_name_only",
    "played_threshold",
    "heartbeat_interval",
    "debug",
    "log_format",
    "delivery",
    "sync",
    "users",
}
_SERVER_KEYS = {
    "name",
    "kind",
    "url",
    "host",
    "port",
    "scheme",
    "token",
    "api_key",
    "aliases",
    "log",
    "webhook_key",
}
_DELIVERY_KEYS = {"concurrency", "per_peer", "max_backoff", "base_backoff", "timeout"}
_SYNC_KEYS = {"schedule", "changed_schedule", "on_start", "users", "concurrency"}
_USERS_KEYS = {"allow", "deny"}


def _server(reader: Reader, raw: Any, key: str, index: int) -> ServerConfig:
    where = f"{key}[{index}]"
    entry = reader.mapping(raw, where, _SERVER_KEYS)
    if not entry:
        raise reader.fail(where, "empty server entry")
    if "url" in entry:
        if "host" in entry or "port" in entry or "scheme" in entry:
            raise reader.fail(where, "give either url or host/port/scheme, not both")
        url = check_url(reader, reader.string(entry["url"], f"{where}.url"), f"{where}.url")
    elif "host" in entry:
        host = reader.string(entry["host"], f"{where}.host")
        if not host or "/" in host or " " in host:
            raise reader.fail(f"{where}.host", f"bad host name {host!r}")
        # The original always spoke https to host:port.
        scheme = reader.string(entry.get("scheme", "https"), f"{where}.scheme").lower()
        if scheme not in ("http", "https"):
            raise reader.fail(f"{where}.scheme", f"must be http or https, not {scheme!r}")
        port_key = f"{where}.port"
        port = entry.get("port", 443 if scheme == "https" else 80)
        port_number = int(reader.number(port, port_key, minimum=1, maximum=65535))
        if float(port) != port_number:
            raise reader.fail(port_key, f"must be a whole number, not {port!r}")
        url = check_url(reader, f"{scheme}://{host}:{port_number}", where)
    else:
        raise reader.fail(where, "missing url (or host and port)")
    kind = reader.string(entry.get("kind", "plex"), f"{where}.kind").lower()
    if kind not in KINDS:
        raise reader.fail(f"{where}.kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if kind == "jellyfin" and urlsplit(url).username is not None:
        # Its requests carry Jellyfin's own Authorization header; a user in the URL would
        # be a second one (basic auth), which no request can carry beside it.
        raise reader.fail(
            f"{where}.url",
            "a Jellyfin server's URL cannot carry user:password@: Jellyfin's credentials "
            "take the Authorization header that basic auth would need",
        )
    # Jellyfin and Emby call their admin credential an API key; either word is accepted.
    if "token" in entry and "api_key" in entry:
        raise reader.fail(where, "give either token or api_key, not both")
    secret_key = "api_key" if "api_key" in entry else "token"
    if entry.get(secret_key) in (None, ""):
        needed = "the server owner's Plex token" if kind == "plex" else "an admin API key"
        raise reader.fail(f"{where}.{secret_key}", f"missing: {needed} is required")
    token = reader.string(entry[secret_key], f"{where}.{secret_key}")
    if not token or any(c.isspace() for c in token):
        raise reader.fail(f"{where}.{secret_key}", "must be a non-empty token without spaces")
    name = reader.string(entry.get("name", urlsplit(url).hostname or ""), f"{where}.name")
    if not _NAME_RE.match(name):
        raise reader.fail(f"{where}.name", f"bad name {name!r} (letters, digits, . _ -)")
    aliases = tuple(a.lower() for a in reader.names(entry.get("aliases"), f"{where}.aliases"))
    if "log" in entry:
        reader.warnings.append(
            f"{reader.path}: {where}.log: ignored (the original tailed a local log; "
            "proxies report to the manager instead)"
        )
    webhook_key = ""
    if entry.get("webhook_key") is not None:
        webhook_key = reader.string(entry["webhook_key"], f"{where}.webhook_key")
        if not _WEBHOOK_KEY_RE.match(webhook_key):
            raise reader.fail(
                f"{where}.webhook_key", "must be 16-128 characters of A-Z a-z 0-9 . _ ~ -"
            )
    return ServerConfig(
        name=name, url=url, token=token, aliases=aliases, kind=kind, webhook_key=webhook_key
    )


def derived_webhook_key(manager_token: str, server_name: str) -> str:
    """A server's webhook key when the config gives none: the same on every start (it
    depends only on the manager's token and the server's name), and not guessable without
    the token (HMAC-SHA256, hex, the first WEBHOOK_KEY_LENGTH digits)."""
    mac = hmac.new(manager_token.encode(), b"webhook:" + server_name.encode(), hashlib.sha256)
    return mac.hexdigest()[:WEBHOOK_KEY_LENGTH]


def _with_webhook_keys(
    reader: Reader, servers: tuple[ServerConfig, ...], token: str, list_key: str
) -> tuple[ServerConfig, ...]:
    out = []
    owners: dict[str, str] = {}
    for i, server in enumerate(servers):
        if not server.webhook_key:
            key = derived_webhook_key(token, server.name)
            server = replace(server, webhook_key=key, webhook_key_derived=True)
        # The key alone says which server a webhook came from: it must be one server's.
        other = owners.setdefault(server.webhook_key, server.name)
        if other != server.name:
            raise reader.fail(f"{list_key}[{i}].webhook_key", f"the same as {other}'s")
        out.append(server)
    return tuple(out)


def parse_config(data: Any, path: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate an already-parsed YAML document; `env` overrides (defaults to os.environ)."""
    env = os.environ if env is None else env
    reader = Reader(path)
    if data is None:
        data = {}
    top = reader.mapping(data, "", _TOP_KEYS)
    if "hosts" in top and "servers" in top:
        raise reader.fail("servers", "give either hosts (original form) or servers, not both")
    list_key = "servers" if "servers" in top else "hosts"
    raw_servers = top.get(list_key)
    if not raw_servers:
        raise reader.fail(list_key, "missing: list at least two Plex servers to keep in sync")
    if not isinstance(raw_servers, list):
        raise reader.fail(list_key, "must be a list of servers")
    servers = tuple(_server(reader, raw, list_key, i) for i, raw in enumerate(raw_servers))
    seen: dict[str, int] = {}
    for i, server in enumerate(servers):
        if server.name in seen:
            raise reader.fail(f"{list_key}[{i}].name", f"duplicate server name {server.name!r}")
        seen[server.name] = i

    token = env.get(ENV_TOKEN) or (
        reader.string(top["token"], "token") if top.get("token") is not None else ""
    )
    if not token:
        raise reader.fail(
            "token", f"missing: set token or {ENV_TOKEN} (the proxies' shared secret)"
        )
    if any(c.isspace() for c in token):
        raise reader.fail("token", "must not contain spaces")
    servers = _with_webhook_keys(reader, servers, token, list_key)

    listen_text = env.get(ENV_LISTEN) or reader.string(
        top.get("listen", f"0.0.0.0:{DEFAULT_PORT}"), "listen"
    )
    listen_host, listen_port = listen_address(reader, listen_text, "listen", DEFAULT_PORT)
    database = env.get(ENV_DSN) or reader.string(top.get("database", DEFAULT_DATABASE), "database")
    database = database_dsn(reader, database, ENV_DSN if env.get(ENV_DSN) else "database")
    plextv = env.get(ENV_PLEXTV) or reader.string(
        top.get("plextv_url", DEFAULT_PLEXTV), "plextv_url"
    )
    plextv = check_url(reader, plextv, "plextv_url")

    debug = reader.boolean(top.get("debug", False), "debug")
    if env.get(ENV_DEBUG) is not None:
        debug = reader.boolean(env[ENV_DEBUG], ENV_DEBUG)
    log_format = reader.string(top.get("log_format", "text"), "log_format")
    if log_format not in ("text", "json"):
        raise reader.fail("log_format", f"must be text or json, not {log_format!r}")

    d = reader.mapping(top.get("delivery"), "delivery", _DELIVERY_KEYS)
    dd, sd = DeliveryConfig(), SyncConfig()  # the defaults, said once
    delivery = DeliveryConfig(
        concurrency=int(
            reader.number(d.get("concurrency", dd.concurrency), "delivery.concurrency", minimum=1)
        ),
        per_peer=int(reader.number(d.get("per_peer", dd.per_peer), "delivery.per_peer", minimum=1)),
        max_backoff=reader.number(d.get("max_backoff", 300), "delivery.max_backoff", minimum=0.05),
        base_backoff=reader.number(d.get("base_backoff", 1), "delivery.base_backoff", minimum=0.01),
        timeout=reader.number(d.get("timeout", 10), "delivery.timeout", minimum=0.1),
    )

    s = reader.mapping(top.get("sync"), "sync", _SYNC_KEYS)
    schedule = cron_setting(reader, env, s, "schedule", ENV_SCHEDULE)
    changed_schedule = cron_setting(reader, env, s, "changed_schedule", ENV_CHANGED_SCHEDULE)
    on_start = reader.boolean(s.get("on_start", False), "sync.on_start")
    if env.get(ENV_UPDATE_ON_START) is not None:
        on_start = reader.boolean(env[ENV_UPDATE_ON_START], ENV_UPDATE_ON_START)
    users = reader.mapping(s.get("users"), "sync.users", _USERS_KEYS)
    sync = SyncConfig(
        schedule=schedule,
        changed_schedule=changed_schedule,
        on_start=on_start,
        allow_users=reader.names(users.get("allow"), "sync.users.allow"),
        deny_users=reader.names(users.get("deny"), "sync.users.deny"),
        concurrency=int(
            reader.number(s.get("concurrency", sd.concurrency), "sync.concurrency", minimum=1)
        ),
    )

    return Config(
        path=path,
        servers=servers,
        token=token,
        listen_host=listen_host,
        listen_port=listen_port,
        database=database,
        plextv_url=plextv,
        same_library_name_only=reader.boolean(
            top.get("same_library_name_only", False), "same_library_name_only"
        ),
        played_threshold=reader.number(
            top.get("played_threshold", 0.9), "played_threshold", minimum=0.01, maximum=1.0
        ),
        heartbeat_interval=reader.number(
            top.get("heartbeat_interval", 60), "heartbeat_interval", minimum=0
        ),
        debug=debug,
        log_format=log_format,
        delivery=delivery,
        sync=sync,
        user_map=user_map(reader, top.get("users"), {s.name for s in servers} | set(KINDS)),
        warnings=tuple(reader.warnings),
    )


def default_config_path(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get(ENV_CONFIG):
        return env[ENV_CONFIG]
    if Path(LEGACY_CONFIG_PATH).is_file():
        return LEGACY_CONFIG_PATH
    return "config/plex-cluster.yml"


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: (file): cannot read: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: (file): cannot read: is a directory") from None
    except PermissionError:
        raise ConfigError(f"{name}: (file): cannot read: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: (file): cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{name}: {where}: not valid YAML: {problem}") from None
    return parse_config(data, name, env)
