"""The manager's web dashboard (issue 14 §1): server-rendered pages behind a login.

`Dashboard(runtime, token, spawn, ready).mount(app)` adds it to the manager's HTTP app at
`/dashboard`; see docs/dashboard.md for the pages.
"""

from manager.app.dashboard.routes import Dashboard

__all__ = ["Dashboard"]
