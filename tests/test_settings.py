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


def test_model_threads_divide_the_cores_among_their_sharers_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from core import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert threads.model_threads(Settings(model_threads=0), 2) == 4  # the inference server: forward pass and decoding
    assert threads.model_threads(Settings(model_threads=0), 16) == 1  # never none
    assert threads.model_threads(Settings(model_threads=3), 2) == 3  # STYLECAT_MODEL_THREADS wins
    monkeypatch.setenv("STYLECAT_TORCH_THREADS", "5")  # the name it had while the workers ran torch
    assert Settings().model_threads == 5
    monkeypatch.setenv("STYLECAT_MODEL_THREADS", "6")
    assert Settings().model_threads == 6  # the new name first


def test_available_cores_follow_the_cgroup_cpu_quota(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from core.threads import available_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    v2, v1_quota, v1_period = tmp_path / "cpu.max", tmp_path / "cpu.cfs_quota_us", tmp_path / "cpu.cfs_period_us"
    quotas = ((v2, None), (v1_quota, v1_period))
    assert available_cores(quotas) == 4  # no cgroup files: the cores it may run on
    v2.write_text("max 100000\n")
    assert available_cores(quotas) == 4
    v2.write_text("250000 100000\n")  # docker --cpus 2.5
    assert available_cores(quotas) == 2
    v2.write_text("50000 100000\n")  # half a core: still one thread
    assert available_cores(quotas) == 1
    v2.unlink()
    v1_quota.write_text("-1\n")
    v1_period.write_text("100000\n")
    assert available_cores(quotas) == 4
    v1_quota.write_text("300000\n")
    assert available_cores(quotas) == 3
    v1_quota.write_text("800000\n")  # a quota above the cpuset does not add cores
    assert available_cores(quotas) == 4
