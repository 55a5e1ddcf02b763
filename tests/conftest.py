"""Fixtures against the real stack (`stylecat stack up`): PostgreSQL, Redis and OpenSearch.

The suite works in databases of its own, so it never touches the demo's data.
"""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from db import migrate
from db.session import engine_for
from stylecat.settings import Settings, get_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


def _admin_conninfo(settings: Settings) -> str:
    return make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_database(settings: Settings, name: str) -> str:
    with psycopg.connect(_admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(settings: Settings, url: str) -> None:
    engine_for(url).dispose()
    name = make_url(url).database
    with psycopg.connect(_admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_database_url(settings: Settings) -> Iterator[str]:
    """A new, empty database, dropped afterwards."""
    url = _create_database(settings, f"stylecat_empty_{uuid.uuid4().hex[:8]}")
    yield url
    _drop_database(settings, url)


@pytest.fixture(scope="session")
def database_url(settings: Settings) -> Iterator[str]:
    """The suite's migrated database (`<name>_test`), made afresh for each run."""
    url = _create_database(settings, f"{make_url(settings.database_url).database}_test")
    migrate.upgrade(database_url=url)
    yield url
    _drop_database(settings, url)
