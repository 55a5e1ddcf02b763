"""The one settings object: environment prefix, derived paths, and refusals of unsafe values."""

import pytest
from pydantic import SecretStr

from core.settings import Settings

pytestmark = pytest.mark.unit


def test_reads_stylecat_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STYLECAT_REDIS_URL", "redis://127.0.0.1:6390/3")
    monkeypatch.setenv("STYLECAT_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("STYLECAT_MLFLOW_TRACKING_URI")
    settings = Settings()
    assert settings.redis_url == "redis://127.0.0.1:6390/3"
    # the documented default: MLflow's local store, a sqlite file under the stack folder (README, Settings)
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"


def test_visibility_timeout_must_outlast_the_task_time_limit() -> None:
    with pytest.raises(ValueError, match="visibility_timeout"):
        Settings(task_time_limit=600, broker_visibility_timeout=300)


def test_production_refuses_placeholder_secrets() -> None:
    strong = {"flower_user": "ops", "flower_password": SecretStr("a-long-random-secret")}
    with pytest.raises(ValueError, match="database password"):
        Settings(environment="production", **strong)
    with pytest.raises(ValueError, match="FLOWER_PASSWORD"):
        Settings(
            environment="production",
            database_url="postgresql+psycopg://u:s3cret-pw@db/x",
            flower_user="ops",
            flower_password=SecretStr("short"),
        )
    ok = Settings(
        environment="production",
        database_url="postgresql+psycopg://u:s3cret-pw@db/x",
        storage="s3",
        s3_bucket="images",
        **strong,
    )
    assert ok.environment == "production"


def test_the_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [f"STYLECAT_{name.upper()}" for name in Settings.model_fields if f"STYLECAT_{name.upper()}" not in readme]
    assert not missing, f"README lacks {missing}"


def test_torch_threads_divide_the_cores_among_their_sharers_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from core.threads import torch_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert torch_threads(Settings(torch_threads=0), 2) == 4  # the inference server: forward pass and decoding
    assert torch_threads(Settings(torch_threads=0), 16) == 1  # never none
    assert torch_threads(Settings(torch_threads=3), 2) == 3  # STYLECAT_TORCH_THREADS wins
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert torch_threads(Settings(torch_threads=0), 1) == 1
