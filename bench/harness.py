"""Run stylecat's processes against resources of the benchmark's own (database `<db>_bench`, Redis
database 14, index alias `stylecat-bench`), so that a benchmark never touches demo or test data."""

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

from core import waiting
from core.settings import get_settings

STYLECAT = [sys.executable, "-m", "stylecat"]
MODULES = ("mlflow", "inference.entrypoint")
"""Commands run as `python -m <module>` rather than `stylecat <command>`."""


def fresh_database(suffix: str) -> str:
    """Create (afresh) a database named after the configured one plus `_suffix`; its URL."""
    url = make_url(get_settings().database_url)
    name = f"{url.database}_{suffix}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.set(database=name).render_as_string(hide_password=False)


def bench_environment() -> dict[str, str]:
    """Create (afresh) the benchmark's database and point the settings at the benchmark's resources."""
    base = get_settings()
    env = {
        "STYLECAT_DATABASE_URL": fresh_database("bench"),
        "STYLECAT_REDIS_URL": base.redis_url.rsplit("/", 1)[0] + "/14",
        "STYLECAT_OPENSEARCH_INDEX": "stylecat-bench",
        "STYLECAT_STORAGE_DIR": str(base.stack_dir / "bench" / "images"),
        "STYLECAT_MLFLOW_TRACKING_URI": base.mlflow_tracking_uri,
    }
    os.environ.update(env)
    get_settings.cache_clear()
    redis.Redis.from_url(env["STYLECAT_REDIS_URL"]).flushdb()
    from migrations import commands as migrate
    from search.client import get_client

    migrate.upgrade()
    client = get_client()
    for index in client.indices.get(index="stylecat-bench*"):
        client.indices.delete(index=index)
    return env


@contextmanager
def processes(specs: list[tuple[list[str], dict[str, str]]], logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    logs.mkdir(parents=True, exist_ok=True)
    # SIGTERM (e.g. `timeout`) must still run the `finally` below, or the workers outlive the benchmark
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = []
    try:
        for index, (args, env) in enumerate(specs):
            log = (logs / f"{index}-{args[0]}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [*STYLECAT, *args] if args[0] not in MODULES else [sys.executable, "-m", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **env},
                    start_new_session=True,
                )
            )
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU time these processes and their children have used so far (children
    that ended and were waited for are counted by their parent)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended
        total += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live processes under `pid` (a worker's prefork children), from /proc."""
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []  # it ended
    for task in tasks:
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def find_processes(text: str) -> list[int]:
    """Live processes whose command line holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """A server still starting answers with connection errors: those count as "not yet"."""
    return waiting.wait_for(check, timeout, what, interval, ignore=(Exception,))


def wait_for_children(log: Path, children: int, timeout: float = 180) -> None:
    """Until `children` worker children have loaded the model (each logs it at INFO once its
    session exists): a clock started earlier would time children that are still loading."""

    line = f"loaded {get_settings().model_name} version"

    def loaded() -> bool:
        return log.exists() and log.read_text(errors="replace").count(line) >= children

    wait_for(loaded, timeout, f"{children} worker children to load the model ({log})", 0.2)
