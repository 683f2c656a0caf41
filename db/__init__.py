"""Storage: SQLAlchemy models, engine and sessions, store functions and Alembic migrations."""
