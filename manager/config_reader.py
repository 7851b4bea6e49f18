"""Reading one YAML config value at a time, so that every error names its file and key.

Any problem becomes one `ConfigError` line, `<file>: <key>: <problem>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
