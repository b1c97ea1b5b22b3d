"""Persistence: SQLAlchemy Core over SQLite (embedded) and PostgreSQL (distributed)."""
