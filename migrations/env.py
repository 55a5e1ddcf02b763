"""Alembic environment: the URL from the settings (or the caller), types compared, the models as target."""

from alembic import context

from core.settings import get_settings
from db.models import Base
from db.session import engine_for

if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against the database")

url = context.config.attributes.get("database_url") or get_settings().database_url
with engine_for(url).connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
