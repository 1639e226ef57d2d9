"""The admin pages, server-rendered (Jinja2, inline SVG charts, no script needed), mounted
under /admin by `calsync.api.app.create_app`:

- `app`: the frame: who is logged in, what each page needs, rendering, error pages,
  logging in and out, `mount`;
- `session`: the login's design (an API token, then a signed session cookie), `csrf`: the
  forms' CSRF tokens;
- `dashboard` (Synchronization Health, with `charts`), `exchange_log` (events, calendar
  items, synchronization deltas; reprocess), `approvals`, `items` (workplace items and
  connections with their health);
- `templates/`, `static/` (one stylesheet).
"""
