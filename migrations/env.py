"""Alembic environment: the URL from the settings (or the caller), types compared, the models as target."""

from alembic import context
from sqlalchemy import text

from core.settings import get_settings
from db.models import Base
from db.session import engine_for

if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against the database")

url = context.config.attributes.get("database_url") or get_settings().database_url
with engine_for(url).connect() as connection:
    # fail fast when a table is busy: a migration waiting for a lock makes every query queue behind it
    lock_timeout_ms = int(get_settings().migration_lock_timeout * 1000)
    connection.execute(text(f"SET lock_timeout = {lock_timeout_ms}"))
    connection.commit()  # a session setting; alembic's own transaction must start after it, or it never commits
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
