"""Alembic migrations: env.py, which the alembic command runs, and the numbered revisions."""
