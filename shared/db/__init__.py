"""The database: engines and sessions, the SQLAlchemy models, Alembic migrations."""
