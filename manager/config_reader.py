"""Reading one YAML config value at a time, so that every error names its file and key;
and the checks of the config's URLs, listen address, database DSN and cron schedules.

Any problem becomes one `ConfigError` line, `<file>: <key>: <problem>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from manager.redaction import redact_text

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """One line: `<file>: <key>: <problem>`."""


class Reader:
    """Carries the file name so every error names it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str] | None) -> Mapping[str, Any]:
        """A mapping whose keys are among `allowed` (None: any key)."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, not {type(value).__name__}")
        for name in value if allowed is not None else ():
            if name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, f"unknown key (known: {', '.join(sorted(allowed))})")
        return value

    def string(self, value: Any, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        return str(value).strip()

    def boolean(self, value: Any, key: str) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self.fail(key, f"must be true or false, not {value!r}")

    def number(
        self, value: Any, key: str, *, minimum: float, maximum: float | None = None
    ) -> float:
        if isinstance(value, bool):
            raise self.fail(key, f"must be a number, not {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(key, f"must be a number, not {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            upper = f" and at most {maximum:g}" if maximum is not None else ""
            raise self.fail(key, f"must be at least {minimum:g}{upper}, not {value!r}")
        return number

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of names")
        return tuple(self.string(v, f"{key}[{i}]") for i, v in enumerate(value))


def check_url(reader: Reader, url: str, key: str) -> str:
    parts = urlsplit(url)
    shown = redact_text(url)  # a password in its user info stays out of the message
    if parts.scheme not in ("http", "https"):
        raise reader.fail(key, f"bad URL {shown!r}: scheme must be http or https")
    if not parts.hostname:
        raise reader.fail(key, f"bad URL {shown!r}: no host name")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise reader.fail(key, f"bad URL {shown!r}: port is not a number 1-65535") from None
    if parts.query or parts.fragment:
        raise reader.fail(key, f"bad URL {shown!r}: no query or fragment allowed")
    return url.rstrip("/")


def listen_address(reader: Reader, text: str, key: str, default_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    host = host.strip("[]") or "0.0.0.0"
    try:
        number = int(port)
    except ValueError:
        raise reader.fail(key, f"bad listen address {text!r}: port is not a number") from None
    if not 0 <= number <= 65535:
        raise reader.fail(key, f"bad listen address {text!r}: port out of range")
    return host, number


def database_dsn(reader: Reader, dsn: str, key: str) -> str:
    scheme = dsn.split(":", 1)[0].lower() if ":" in dsn else ""
    if scheme not in ("sqlite", "postgres", "postgresql", "postgresext", "postgresqlext"):
        raise reader.fail(
            key, f"bad database DSN: use sqlite:///path or postgresql://…, got {scheme or dsn!r}"
        )
    return dsn


def cron_setting(
    reader: Reader, env: Mapping[str, str], s: Mapping[str, Any], name: str, env_name: str
) -> str | None:
    """A 5-field cron expression from the environment or `sync.<name>`, checked."""
    value = env.get(env_name) or (reader.string(s[name], f"sync.{name}") if s.get(name) else None)
    if not value:
        return None
    key = env_name if env.get(env_name) else f"sync.{name}"
    if len(value.split()) != 5:
        raise reader.fail(key, f"must be a 5-field cron expression like '0 2 * * *', not {value!r}")
    from manager.cron import CronError, parse

    try:
        parse(value)
    except CronError as exc:
        raise reader.fail(key, str(exc)) from None
    return value
