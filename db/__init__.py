"""PostgreSQL: models, engine and session factory, and the few write paths."""
