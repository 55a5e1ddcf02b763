"""docker-compose.yml, checked statically (no Docker engine here): every command is a real entry
point of this project, every STYLECAT_ variable is a setting, and start-up order rests on healthchecks."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from core.settings import Settings
from stylecat.cli import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = {name: svc for name, svc in SERVICES.items() if svc.get("image", "").startswith("stylecat:")}


def test_the_stack_has_every_part_of_the_design() -> None:
    assert {
        "postgres",
        "redis",
        "opensearch",
        "s3",
        "storage-init",
        "mlflow",
        "api",
        "worker-live",
        "worker-backfill",
        "beat",
        "flower",
        "inference",
    } <= set(SERVICES)


def test_the_inference_service_runs_the_sagemaker_container_contract() -> None:
    service = SERVICES["inference"]
    assert service["profiles"] == ["sagemaker"] and service["command"] == ["serve"]
    dockerfile = ROOT / service["build"]["dockerfile"]
    assert 'ENTRYPOINT ["python", "-m", "inference.entrypoint"]' in dockerfile.read_text()
    source = service["volumes"][0].split(":")[0]
    assert (ROOT / source / "config.json").exists() and (ROOT / source / "model.onnx").exists()  # no torch there


@pytest.mark.parametrize("name", sorted(OURS))
def test_command_is_a_real_stylecat_entry_point(name: str) -> None:
    command = OURS[name]["command"]
    assert command[0] == "stylecat"
    # --help is eager: exit 0 means the subcommand exists and every option given to it parses
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, f"{name}: `{' '.join(command)}` is not a stylecat command:\n{result.output}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_environment_variables_are_settings(name: str) -> None:
    fields = {f"STYLECAT_{field.upper()}" for field in Settings.model_fields}
    env = OURS[name]["environment"]
    unknown = {key for key in env if key.startswith("STYLECAT_")} - fields
    assert not unknown, f"{name} sets variables no setting reads: {unknown}"
    assert env["STYLECAT_ENVIRONMENT"] == "production"


def test_worker_queues_are_the_celery_queues() -> None:
    from core.queues import Queue

    consumed = set()
    for name in ("worker-live", "worker-backfill"):
        command = OURS[name]["command"]
        consumed |= set(command[command.index("--queues") + 1].split(","))
    assert consumed == {queue.value for queue in Queue}
    assert "categorize.backfill" not in OURS["worker-live"]["command"]


ONE_SHOT = {"migrate", "storage-init"}


def test_dependencies_wait_for_health() -> None:
    for name, svc in SERVICES.items():
        for dep, rule in svc.get("depends_on", {}).items():
            assert dep in SERVICES, f"{name} depends on a missing service {dep}"
            if (name, dep) == ("storage-init", "s3"):  # the S3Proxy image has no probe: storage-init waits itself
                assert rule["condition"] == "service_started" and "--wait" not in svc["command"]
                continue
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dep}"
            if expected == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{dep} has no healthcheck for {name} to wait on"


def test_secrets_are_required_not_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "FLOWER_USER", "FLOWER_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        assert re.search(rf"\$\{{{secret}:\?", text), f"{secret} must be required with ${{{secret}:?...}}"
    assert "OPENSEARCH_JAVA_OPTS" in SERVICES["opensearch"]["environment"]


def test_the_image_copies_every_package_of_the_project() -> None:
    copied = set(re.findall(r"^COPY (\S+) ", (ROOT / "Dockerfile").read_text(), re.M))
    for package in ("stylecat", "db", "migrations", "producer", "worker", "search", "model", "inference"):
        assert package in copied and (ROOT / package / "__init__.py").exists()


def test_every_process_reaches_the_same_store_and_beat_writes_to_a_volume() -> None:
    """Before: storage defaulted to a folder the api and worker containers did not share, and beat
    could not write its schedule in a root-owned folder."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert (
        "STYLECAT_STACK_DIR=/var/lib/stylecat" in dockerfile
        and "chown stylecat:stylecat /var/lib/stylecat" in dockerfile
    )
    assert any(volume.endswith(":/var/lib/stylecat") for volume in SERVICES["beat"]["volumes"])
    for name, service in OURS.items():
        env = service["environment"]
        assert env["STYLECAT_STORAGE"] == "s3" and env["STYLECAT_S3_BUCKET"], name
        assert env["STYLECAT_S3_ENDPOINT_URL"].startswith("http://s3:"), name


def test_the_application_image_installs_cpu_torch_and_the_inference_image_only_serving() -> None:
    application = (ROOT / "Dockerfile").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu torch" in application
    assert "'.[pipeline,training]'" in application
    inference = (ROOT / "inference" / "Dockerfile").read_text()
    installs = inference.split("pip install", 1)[1]
    assert "pip install --no-cache-dir . " in inference and "[" not in installs.split("\n")[0]
    assert "torch" not in installs  # the model runs as its ONNX export
    assert set(re.findall(r"^COPY (\S+) ", inference, re.M)) == {
        "pyproject.toml",
        "core",
        "images",
        "model",
        "inference",
    }


def test_production_refuses_a_store_the_workers_cannot_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STYLECAT_STORAGE_DIR", raising=False)  # the test environment sets one
    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://u:s3cret-pw@db/x",
        "flower_user": "ops",
        "flower_password": "a-long-random-secret",
    }
    with pytest.raises(ValueError, match="must reach the same store"):
        Settings(**production)  # local storage in a folder of its own container
    with pytest.raises(ValueError, match="needs STYLECAT_S3_BUCKET"):
        Settings(**production, storage="s3")
    assert Settings(**production, storage="s3", s3_bucket="images").storage == "s3"
    assert Settings(**production, storage_dir="/mnt/shared-images").storage == "local"  # a shared volume


def test_serving_imports_nothing_of_the_pipeline_extra() -> None:
    """The inference image installs the base dependencies only: its imports must not need the extra."""
    blocked = ["alembic", "celery", "flower", "opensearchpy", "prometheus_client", "psycopg", "redis", "typer", "tqdm"]
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}: raise ImportError('pipeline extra: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import inference.server, inference.entrypoint, inference.loading\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


def test_operations_settings_of_the_servers() -> None:
    """Redis refuses new jobs when full instead of being killed (noeviction under a maxmemory), and
    Flower, whose /metrics has no authentication, is published on loopback only."""
    redis_command = SERVICES["redis"]["command"]
    assert redis_command[redis_command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "--maxmemory" in redis_command
    assert all(port.startswith("127.0.0.1:") for port in SERVICES["flower"]["ports"])
    assert all(port.startswith("127.0.0.1:") for port in SERVICES["mlflow"]["ports"])
