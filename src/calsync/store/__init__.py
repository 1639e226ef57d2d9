"""Persistence: SQLAlchemy 2 tables, repositories returning domain values, the unit of work."""
