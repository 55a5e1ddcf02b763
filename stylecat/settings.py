"""The one settings object. Every value comes from `STYLECAT_*` environment variables (or `.env`).

No other module reads the environment: they call `get_settings()`.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLACEHOLDER_SECRETS = {None, "", "stylecat", "changeme", "change-me", "password", "postgres"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYLECAT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Services
    database_url: str = "postgresql+psycopg://stylecat:stylecat@127.0.0.1:5432/stylecat"
    redis_url: str = "redis://127.0.0.1:6379/0"
    opensearch_url: str = "http://127.0.0.1:9200"
    mlflow_tracking_uri: str = ""
    """Empty means a local sqlite store under `stack_dir/mlflow`."""

    # Celery
    task_soft_time_limit: int = 120
    """Seconds before a task gets SoftTimeLimitExceeded (and marks its images failed)."""
    task_time_limit: int = 180
    """Seconds before the child running a task is killed."""
    broker_visibility_timeout: int = 3 * 3600
    """Seconds before Redis redelivers an unacknowledged job; must exceed `task_time_limit`."""
    worker_max_memory_per_child: int = 2_000_000
    """KiB of resident memory after which a worker child is replaced (the model reloads in the new one)."""

    # Flower
    flower_user: str = ""
    flower_password: SecretStr = SecretStr("")

    # The local stack (`stylecat stack ...`)
    stack_dir: Path = Path(".stack")
    opensearch_heap: str = Field(default="768m", pattern=r"^([1-9]\d{1,2}m|10[01]\dm|102[0-4]m|1g)$")
    """JVM heap of the local OpenSearch node (at most 1g)."""
    java_home: Path | None = None
    """JDK for the local OpenSearch node; default: the newest under /usr/lib/jvm or `java` on PATH."""

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        if self.broker_visibility_timeout <= self.task_time_limit:
            raise ValueError("broker_visibility_timeout must exceed task_time_limit, or jobs run twice")
        if self.environment == "production":
            self._refuse_placeholder_secrets()
        self.stack_dir = self.stack_dir.expanduser().resolve()
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = f"sqlite:///{self.stack_dir / 'mlflow' / 'mlflow.db'}"
        return self

    def _refuse_placeholder_secrets(self) -> None:
        if make_url(self.database_url).password in PLACEHOLDER_SECRETS:
            raise ValueError("the database password is a placeholder; set a real one in production")
        if len(self.flower_password.get_secret_value()) < 12 or not self.flower_user:
            raise ValueError("set STYLECAT_FLOWER_USER and a STYLECAT_FLOWER_PASSWORD of 12+ characters")


@lru_cache
def get_settings() -> Settings:
    return Settings()
