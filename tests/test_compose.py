"""docker-compose.yml, checked statically (no Docker engine here): every command is a real entry
point of this project, every STYLECAT_ variable is a setting, and start-up order rests on healthchecks."""

import re
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
    assert (ROOT / source / "config.json").exists() and (ROOT / source / "weights.pt").exists()


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


def test_dependencies_wait_for_health() -> None:
    for name, svc in SERVICES.items():
        for dep, rule in svc.get("depends_on", {}).items():
            assert dep in SERVICES, f"{name} depends on a missing service {dep}"
            expected = "service_completed_successfully" if dep == "migrate" else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dep}"
            if expected == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{dep} has no healthcheck for {name} to wait on"


def test_secrets_are_required_not_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "FLOWER_USER", "FLOWER_PASSWORD"):
        assert re.search(rf"\$\{{{secret}:\?", text), f"{secret} must be required with ${{{secret}:?...}}"
    assert "OPENSEARCH_JAVA_OPTS" in SERVICES["opensearch"]["environment"]


def test_the_image_copies_every_package_of_the_project() -> None:
    copied = set(re.findall(r"^COPY (\S+) ", (ROOT / "Dockerfile").read_text(), re.M))
    for package in ("stylecat", "db", "migrations", "producer", "worker", "search", "model", "inference"):
        assert package in copied and (ROOT / package / "__init__.py").exists()
