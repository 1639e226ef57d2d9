"""calsync's HTTP side (FastAPI): `create_app(services)` in `calsync.api.app`; the API
under /api/v1, one module per part (items, reservations, events, calendar_items,
synchronizations, connections), with auth.py (bearer tokens and roles), pagination.py
(cursors), shapes.py (the answers), errors.py (error answers); health.py (/healthz),
metrics.py (/metrics) and webhooks.py (provider push notifications). Imported by
`calsync serve` only, so that other commands never load FastAPI."""
