"""Fixtures against the real stack (`stylecat stack up`): PostgreSQL, Redis and OpenSearch.

The suite points the settings at resources of its own — a `<db>_test` database, Redis database 15,
an OpenSearch alias `stylecat-test`, a storage folder and an MLflow store under the stack folder —
so it never touches the demo's data. Worker processes started by tests inherit the same environment.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.settings import Settings, get_settings
from db.session import engine_for
from migrations import commands as migrate
from producer.apikeys import issue_key
from stylecat.stack import s3proxy

_base = get_settings()
TEST_DB = f"{make_url(_base.database_url).database}_test"
TEST_ENV = {
    "STYLECAT_DATABASE_URL": make_url(_base.database_url).set(database=TEST_DB).render_as_string(hide_password=False),
    "STYLECAT_REDIS_URL": _base.redis_url.rsplit("/", 1)[0] + "/15",
    "STYLECAT_OPENSEARCH_INDEX": "stylecat-test",
    "STYLECAT_STORAGE_DIR": str(_base.stack_dir / "test" / "images"),
    # MLflow's local tracking/registry store is a sqlite file by design (README, Settings: "local store
    # (sqlite file + artifact folder)"); it stands in for no server. PostgreSQL stays real.
    "STYLECAT_MLFLOW_TRACKING_URI": f"sqlite:///{_base.stack_dir / 'test' / 'mlflow' / 'mlflow.db'}",
    "STYLECAT_STACK_DIR": str(_base.stack_dir),
    "STYLECAT_INDEX_DEBOUNCE": "0.3",
    "STYLECAT_S3_ALLOWED_SOURCES": '["illustrations/cats/"]',
    # the stack's S3-compatible server (S3Proxy); storage stays local unless a test asks for s3
    "STYLECAT_S3_ENDPOINT_URL": _base.s3_endpoint_url or s3proxy.URL,
    "AWS_ACCESS_KEY_ID": s3proxy.IDENTITY,
    "AWS_SECRET_ACCESS_KEY": s3proxy.CREDENTIAL,
    "AWS_DEFAULT_REGION": "us-east-1",
}


# Set before any test module imports the Celery app or the settings: they must see the test resources.
os.environ.update(TEST_ENV)
get_settings.cache_clear()


def admin_conninfo(settings: Settings) -> str:
    return make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_database(name: str) -> str:
    with psycopg.connect(admin_conninfo(_base), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(_base.database_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    engine_for(url).dispose()
    name = make_url(url).database
    with psycopg.connect(admin_conninfo(_base), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test not marked `unit` needs the stack: mark it `stack`, so `-m unit` (or `-m "not
    stack"`) runs the server-free tier alone."""
    for item in items:
        if item.get_closest_marker("unit") is None:
            item.add_marker(pytest.mark.stack)


@pytest.fixture(autouse=True)
def _stack_for_stack_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("unit") is None:
        request.getfixturevalue("test_environment")


@pytest.fixture(scope="session")
def test_environment() -> Iterator[Settings]:
    """Fresh test resources for the run, and the settings pointed at them."""
    shutil.rmtree(_base.stack_dir / "test", ignore_errors=True)
    (_base.stack_dir / "test" / "mlflow").mkdir(parents=True)
    _create_database(TEST_DB)
    settings = get_settings()
    migrate.upgrade()
    redis.Redis.from_url(settings.redis_url).flushdb()
    _delete_test_indexes(settings)
    yield settings
    _drop_database(TEST_ENV["STYLECAT_DATABASE_URL"])


def _delete_test_indexes(settings: Settings) -> None:
    from search.client import get_client

    client = get_client()
    for name in client.indices.get(index=f"{settings.opensearch_index}*"):
        client.indices.delete(index=name)


@pytest.fixture(scope="session")
def settings(test_environment: Settings) -> Settings:
    return test_environment


@pytest.fixture(scope="session")
def shipped_registry(tmp_path_factory: pytest.TempPathFactory, test_environment: Settings) -> Path:
    """A private MLflow store (a sqlite file) holding the two shipped versions, registered once for
    the run: a test copies the file and works on its copy (registering takes about 15 s)."""
    from model import registry

    store = tmp_path_factory.mktemp("registry") / "mlflow.db"
    own = test_environment.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{store}"})
    registry.ensure_champion(registry.configure(own), own.model_name)
    registry.configure(test_environment)
    return store


def registry_copy(template: Path, folder: Path) -> str:
    """A tracking URI of a copy of the store `template` (its artifacts are shared, read only)."""
    shutil.copy(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="session")
def database_url(settings: Settings) -> str:
    return settings.database_url


@pytest.fixture
def clean_tables(settings: Settings) -> None:
    """Empty the test database's tables (ids restart), its queues and its search index."""
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(text("TRUNCATE images, style_predictions, style_reviews, canary_halts RESTART IDENTITY CASCADE"))
    redis.Redis.from_url(settings.redis_url).flushdb()
    _delete_test_indexes(settings)


@pytest.fixture(scope="session")
def api_key(test_environment: Settings) -> str:
    """A live key with every scope (the tables `clean_tables` empties do not include keys)."""
    return issue_key("tests")


@pytest.fixture(scope="session")
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    """A new, empty database, dropped afterwards."""
    url = _create_database(f"stylecat_empty_{uuid.uuid4().hex[:8]}")
    yield url
    _drop_database(url)
