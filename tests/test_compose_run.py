"""docker-compose.yml run as compose would run it, without a Docker engine (#12 item 2).

Each service built from our image starts its command as a non-root user, with nothing in its
environment but the image's ENV and the compose file's environment (secrets filled in, and the
hosts compose names — postgres, redis, opensearch, mlflow, s3 — pointed at the local stack and a
real `mlflow server`), in a working directory it cannot write, with each declared volume as a
folder it owns. Then an upload goes through to search. Before the fix the storage was a folder the
api and worker containers did not share (uploads ended `not_found`) and beat could not write its
schedule in the root-owned image.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
import yaml
from psycopg import sql
from sqlalchemy import make_url

from core.settings import Settings
from tests.conftest import admin_conninfo
from tests.factories import illustration
from tests.processes import Process, free_port, mlflow_server, wait_for

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NOBODY = 65534
# As `nobody`. It keeps one capability, to read and search any folder (CAP_DAC_READ_SEARCH), because
# this machine's interpreter lives under /root (mode 700); it may write only where ownership allows,
# which is what this test is about. Run by a non-root user, the services simply run as that user.
AS_NOBODY = (
    ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    + ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    if os.getuid() == 0
    else []
)
REDIS_DB = 13


def _image_env() -> dict[str, str]:
    """The ENV lines of the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", text, re.M):
        pairs |= dict(item.split("=", 1) for item in line.split())
    return pairs


def _substitute(value: str, secrets_: dict[str, str]) -> str:
    """Compose's `${NAME:?message}` and `${NAME:-default}`."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        return secrets_.get(name) or (rest if op == ":-" else "")

    return re.sub(r"\$\{(\w+)(:\?|:-)([^}]*)\}", one, value)


def _owned(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if AS_NOBODY:
        shutil.chown(path, NOBODY, NOBODY)
    return path


@pytest.fixture
def database(settings: Settings) -> Iterator[tuple[str, str]]:
    """A database of its own, owned by a role with a real password (production refuses placeholders)."""
    role, password, name = "stylecat_compose", secrets.token_urlsafe(16), "stylecat_compose"
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))  # to make it an owner
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
    url = make_url(settings.database_url).set(username=role, password=password, database=name)
    yield url.render_as_string(hide_password=False), password
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_compose_services_run_as_written_and_an_upload_reaches_search(
    settings: Settings, tmp_path: Path, database: tuple[str, str]
) -> None:
    database_url, password = database
    flower_password = secrets.token_urlsafe(16)
    filled = {
        "POSTGRES_PASSWORD": password,
        "FLOWER_USER": "ops",
        "FLOWER_PASSWORD": flower_password,
        "S3_ACCESS_KEY": os.environ["AWS_ACCESS_KEY_ID"],
        "S3_SECRET_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    index = "compose-test"
    app = tmp_path / "app"  # the image's WORKDIR: root's, read-only to the service user
    app.mkdir()
    bin_dir = str(Path(sys.executable).parent)
    processes: list[Process] = []
    with mlflow_server(_owned(tmp_path / "mlflow")) as (mlflow_url, _):
        hosts = {  # where compose's service names point, here
            "STYLECAT_DATABASE_URL": database_url,
            "STYLECAT_REDIS_URL": redis_url,
            "STYLECAT_OPENSEARCH_URL": settings.opensearch_url,
            "STYLECAT_MLFLOW_TRACKING_URI": mlflow_url,
            "STYLECAT_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        }

        def env_for(name: str) -> dict[str, str]:
            service = COMPOSE["services"][name]
            image = _image_env()
            volumes = {target: _owned(tmp_path / name / source) for source, target in _volumes(service)}
            stack_dir = volumes.get(image["STYLECAT_STACK_DIR"]) or _owned(tmp_path / name / "var-lib-stylecat")
            env = {key: _substitute(str(value), filled) for key, value in service["environment"].items()}
            return {
                "PATH": f"{bin_dir}:/usr/bin:/bin",
                "HOME": str(_owned(tmp_path / name / "home")),
                "LANG": "C.UTF-8",
                **image,
                "STYLECAT_STACK_DIR": str(stack_dir),
                **env,
                **hosts,
                "STYLECAT_OPENSEARCH_INDEX": index,
            }

        def start(name: str, ports: dict[str, int] | None = None) -> Process:
            command = [str(part) for part in COMPOSE["services"][name]["command"]]
            for flag, port in (ports or {}).items():  # compose's fixed ports may be taken here
                command[command.index(flag) + 1] = str(port)
            process = Process(
                command[1:],
                tmp_path / f"{name}.log",
                env_for(name),
                command=[*AS_NOBODY, str(Path(bin_dir) / command[0])],
                inherit_env=False,
                cwd=app,
            )
            processes.append(process)
            return process

        try:
            for one_shot in ("storage-init", "migrate"):
                job = start(one_shot)
                assert job.popen.wait(180) == 0, f"{one_shot} failed:\n{job.tail()}"
            api_port, flower_port = free_port(), free_port()
            api = start("api", {"--port": api_port})
            for name in ("worker-live", "worker-backfill", "beat"):
                start(name)
            flower = start("flower", {"--port": flower_port})
            base = f"http://127.0.0.1:{api_port}"
            wait_for(lambda: _answers(f"{base}/health"), 90, f"the API\n{api.tail()}")
            wait_for(lambda: _answers(f"http://127.0.0.1:{flower_port}/", {401}), 60, f"Flower\n{flower.tail()}")

            keys = subprocess.run(
                [
                    *AS_NOBODY,
                    str(Path(bin_dir) / "stylecat"),
                    "keys",
                    "create",
                    "--scope",
                    "upload",
                    "--name",
                    "compose",
                ],
                env=env_for("api"),
                cwd=app,
                capture_output=True,
                text=True,
            )
            assert keys.returncode == 0, keys.stderr
            key = keys.stdout.strip().splitlines()[-1]
            data, _ = illustration(4, seed=404)
            response = httpx.post(
                f"{base}/images",
                files={"file": ("upload.png", data)},
                data={"title": "compose smoke test"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert response.status_code == 202, response.text
            image_url = f"{base}/images/{response.json()['id']}"

            def searchable() -> bool:
                response = httpx.get(f"{base}/search", params={"q": "compose smoke"}, timeout=10)
                if response.status_code == 503:  # the new index's shards are still starting
                    return False
                hits = response.json()["hits"]
                return bool(hits) and hits[0]["style"] is not None

            wait_for(searchable, 180, f"the upload in search: {httpx.get(image_url).json()}\n{processes[3].tail()}")
            assert httpx.get(image_url).json()["status"] == "categorized"
            wait_for(lambda: any((tmp_path / "beat" / "beatdata").iterdir()), 30, "beat's schedule in its volume")
            for process in processes[2:]:
                assert process.popen.poll() is None, f"{process.log.name} exited:\n{process.tail()}"
        finally:
            for process in processes:
                process.stop()
            redis.Redis.from_url(redis_url).flushdb()
            httpx.delete(f"{settings.opensearch_url}/{index}*", timeout=30)


def _volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    return [tuple(volume.split(":")[:2]) for volume in service.get("volumes", [])]  # type: ignore[misc]


def _answers(url: str, statuses: set[int] | None = None) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (statuses or {200})
    except httpx.HTTPError:
        return False
