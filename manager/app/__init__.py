"""`serve`: the manager as a running service.

`service` (start-up and shut-down), `receiver` (the HTTP API's routes and doors), `http`
(starlette: route table, JSON answers, body limits), `listener` (uvicorn, in-process),
`events` (the inbox worker feeding the real-time handler), `watch` (probing servers,
catching up a peer that events had to skip), `syncs` (full syncs inside `serve`),
`status` (GET /api/v1/status), `metrics` (GET /metrics).
"""
