"""Hand-written SQL for the statements run once or twice per delivered write.

Peewee builds every query's SQL text anew each time it runs: for the ledger and outbox
statements a full sync runs tens of thousands of times, building that text cost several
times what the database spends answering it (and it holds the GIL the event loop needs).
These statements are written once, with `?` for each parameter, and turned into the
connected database's own parameter style (SQLite `?`, PostgreSQL `%s`) once per text.

Only plain SQL both SQLite (≥ 3.24) and PostgreSQL run the same way: quoted identifiers,
ON CONFLICT … DO UPDATE / DO NOTHING, no literal `?` or `%` in the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from manager.store.db import database_proxy

# (text with ?, the database's parameter mark) → the text to run.
_texts: dict[tuple[str, str], str] = {}


def run(text: str, params: Sequence[Any] = ()) -> Any:
    """Execute `text` (`?` for parameters) on the connected database; the cursor."""
    db = database_proxy.obj
    mark: str = db.param
    key = (text, mark)
    ready = _texts.get(key)
    if ready is None:
        ready = _texts[key] = text if mark == "?" else text.replace("?", mark)
    return db.execute_sql(ready, params)


def marks(n: int) -> str:
    """`?, ?, …` for an IN list of n values (n ≥ 1: an empty IN is not valid SQL)."""
    return ", ".join("?" * n)


def columns(names: Sequence[str], table: str = "") -> str:
    """The quoted column list, each prefixed by `table.` when given."""
    prefix = f'"{table}".' if table else ""
    return ", ".join(f'{prefix}"{n}"' for n in names)


def insert(text: str, params: Sequence[Any]) -> int:
    """Run an INSERT of one row; the new row's id (PostgreSQL: RETURNING, as peewee)."""
    db = database_proxy.obj
    if db.returning_clause:
        return int(run(text + ' RETURNING "id"', params).fetchone()[0])
    return int(run(text, params).lastrowid)
