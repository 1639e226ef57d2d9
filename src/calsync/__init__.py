"""calsync: keeps workplace reservations and room calendars in step."""

__version__ = "0.1.0"
