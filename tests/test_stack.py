"""The local stack: real servers answer, `up` is idempotent, `down` stops only what `up` started."""

import json
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from core.settings import Settings
from stylecat.stack import Redis, services

STYLECAT = str(Path(sys.executable).parent / "stylecat")


def stylecat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STYLECAT, *args], capture_output=True, text=True, timeout=300)


def test_opensearch_is_a_real_opensearch_node(settings: Settings) -> None:
    with urllib.request.urlopen(settings.opensearch_url, timeout=5) as response:
        info = json.loads(response.read())
    assert info["version"]["distribution"] == "opensearch"
    assert int(info["version"]["number"].split(".")[0]) >= 2


def test_postgres_and_redis_answer(settings: Settings) -> None:
    conninfo = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    client = redis.Redis.from_url(settings.redis_url)
    assert client.ping()
    # a queued job must never be evicted to make room
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"


def test_up_twice_reuses_what_runs() -> None:
    result = stylecat("stack", "up")
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["postgres", "redis", "opensearch", "s3"]
    assert all("already running" in line for line in result.stdout.splitlines())


def test_status_reports_every_service_up() -> None:
    result = stylecat("stack", "status")
    assert result.returncode == 0, result.stdout
    assert "opensearch  up" in result.stdout and "opensearch" in result.stdout.split("opensearch  up")[1]


def test_env_prints_exports_a_shell_can_eval(settings: Settings) -> None:
    result = stylecat("stack", "env")
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in result.stdout.splitlines())
    assert exported["STYLECAT_DATABASE_URL"] == settings.database_url
    assert exported["STYLECAT_OPENSEARCH_URL"] == settings.opensearch_url
    assert exported["STYLECAT_REDIS_URL"] == settings.redis_url


def test_unknown_service_is_a_clear_error() -> None:
    result = stylecat("stack", "up", "--only", "mysql")
    assert result.returncode == 1
    assert "unknown service" in result.stderr and "postgres, redis, opensearch" in result.stderr


def test_down_stops_only_what_up_started_and_up_brings_it_back(settings: Settings) -> None:
    service = services(settings, ["redis"])[0]
    assert isinstance(service, Redis)
    if not service.started_by_stack:
        assert "left alone" in stylecat("stack", "down", "--only", "redis").stdout
        assert service.reachable()
        return
    assert stylecat("stack", "down", "--only", "redis").stdout.strip() == "redis: stopped"
    assert not service.reachable()
    assert stylecat("stack", "status").returncode == 1
    assert stylecat("stack", "up", "--only", "redis").stdout.strip() == "redis: started"
    assert service.reachable()


@pytest.mark.parametrize("heap", ["2g", "100", "-1m"])
def test_opensearch_heap_is_bounded(heap: str) -> None:
    with pytest.raises(ValueError, match="opensearch_heap"):
        Settings(opensearch_heap=heap)
