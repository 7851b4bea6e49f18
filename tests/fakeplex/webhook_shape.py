"""Payload shapes kept as data (tests/fakeplex/webhooks/*.json, tests/fakejelly/webhooks/*.json).

A shape file holds a `_source` (the public source of that shape) and the payload with
`"$name"` placeholders; `fill` puts the values in. A placeholder whose value is None is left
out, as the servers leave out members they have no value for.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_MISSING = object()


@cache
def load_shape(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if "_source" not in data:
        raise ValueError(f"{path}: a shape names its public source in _source")
    return data


def fill(shape: Any, values: dict[str, Any]) -> Any:
    """The shape with every "$name" string replaced by values[name] (None: member dropped)."""
    if isinstance(shape, str) and shape.startswith("$"):
        v = values.get(shape[1:], _MISSING)
        if v is _MISSING:
            raise KeyError(f"no value for placeholder {shape}")
        return v
    if isinstance(shape, dict):
        out: dict[str, Any] = {}
        for k, v in shape.items():
            if k.startswith("_"):
                continue  # _source, _comment: documentation, not payload
            filled = fill(v, values)
            if filled is not None:
                out[k] = filled
        return out
    if isinstance(shape, list):
        return [x for x in (fill(v, values) for v in shape) if x is not None]
    return shape
