"""calsync's HTTP side (FastAPI): `create_app(services)` in `calsync.api.app`; the
webhook routes for provider push notifications in `calsync.api.webhooks`. Imported by
`calsync serve` only, so that other commands never load FastAPI."""
