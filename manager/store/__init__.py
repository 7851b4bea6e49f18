"""Durable state through peewee (SQLite by default, PostgreSQL by DSN), one module per table's
work: `db` (models, the database thread), `inbox`, `ledger`, `outbox_rows` and `outbox`
(the dispatcher), `lease` (the full sync's lock and run log).
"""
