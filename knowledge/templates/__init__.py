"""Jinja2 templates that render dbsage plans as files (plain SQL, Alembic, Flyway)."""
