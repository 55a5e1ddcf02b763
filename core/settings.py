"""The one settings object. Every value comes from `STYLECAT_*` environment variables (or `.env`).

No other module reads the environment: they call `get_settings()`.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {None, "", "stylecat", "changeme", "change-me", "password", "postgres"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYLECAT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Services
    database_url: str = "postgresql+psycopg://stylecat:stylecat@127.0.0.1:5432/stylecat"
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    migration_lock_timeout: float = Field(default=10.0, gt=0)
    """Seconds a migration waits for a table lock before it fails (instead of queueing every query
    behind it while a long transaction holds the table)."""
    """Seconds a request waits for a free connection before the API answers 503 `database_busy`."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    opensearch_url: str = "http://127.0.0.1:9200"
    mlflow_tracking_uri: str = ""
    """Empty means a local sqlite store under `stack_dir/mlflow`."""

    # Model and classifier
    model_name: str = "style-cnn"
    """The registered MLflow model."""
    model_uri: str = "models:/style-cnn@champion"
    """What workers and the inference server load; the alias is resolved (and followed) at load time."""
    challenger_uri: str = "models:/style-cnn@challenger"
    """The version tried beside the champion (shadow, canary); none while the alias is unset."""
    shadow_fraction: float = Field(default=0.0, ge=0, le=1)
    """Share of categorized images that also get the challenger's prediction (role `shadow`), which
    changes nothing; chosen by image id, so the same images every time."""
    canary_fraction: float = Field(default=0.0, ge=0, le=1)
    """Share of images the challenger serves (role `canary`: its prediction sets the style)."""
    canary_max_failure_rate: float = Field(default=0.05, ge=0, le=1)
    """A canary that fails on more of its images than this (the champion serves them) is halted."""
    canary_min_attempts: int = Field(default=20, ge=1)
    """Canary images needed before the failure rate can halt it."""
    canary_max_disagreement: float = Field(default=0.5, ge=0, le=1)
    """A canary whose styles reviews correct more often than this is halted."""
    canary_min_reviews: int = Field(default=20, ge=1)
    """Reviewed canary images needed before the disagreement can halt it."""
    canary_check_interval: float = Field(default=60.0, gt=0)
    """Seconds between runs of the canary watch (beat)."""
    evaluation_data: Path | None = None
    """A labelled folder DIR/<style>/* that `stylecat model compare` and gated promotions score both
    versions on (never trained on); unset: the synthetic held-out split."""
    compare_max_reviews: int = Field(default=2_000, ge=0)
    """The newest reviewed images (that neither version trained on) a comparison scores, at most."""
    promote_min_reviews: int = Field(default=20, ge=1)
    """Held-out reviewed images needed before they gate a promotion."""
    promote_max_accuracy_drop: float = Field(default=0.0, ge=0, le=1)
    """How much lower than the champion's the challenger's accuracy may be, on each set."""
    promote_max_f1_drop: float = Field(default=0.05, ge=0, le=1)
    """How much lower than the champion's the challenger's F1 of any class may be, on each set (F1:
    a model that calls everything one style has a perfect recall of it)."""
    drift_min_images: int = Field(default=50, ge=1)
    """Predictions a window (and the reference) needs before drift is judged on it."""
    drift_psi_threshold: float = Field(default=0.25, gt=0)
    """A signal whose population stability index against the reference exceeds this raises the alert."""
    drift_p_value: float = Field(default=0.001, gt=0, lt=1)
    """A style mix whose chi-square test against the reference gives a lower p-value raises the alert."""
    drift_low_confidence: float = Field(default=0.5, gt=0, lt=1)
    """Confidences below this count as low (their share per window is watched)."""
    classifier: Literal["local", "sagemaker"] = "local"
    sagemaker_endpoint: str = "stylecat"
    """Endpoint name for the `sagemaker` classifier."""
    sagemaker_challenger_endpoint: str = ""
    """Endpoint that serves the challenger with the `sagemaker` classifier; empty: no challenger."""
    sagemaker_challenger_endpoint_url: str | None = None
    """Its runtime URL when it differs from `sagemaker_endpoint_url` (locally: a second `stylecat serve-model`)."""
    sagemaker_endpoint_url: str | None = None
    """Another runtime URL, e.g. the project's inference server (`stylecat serve-model`) locally."""
    model_threads: int = Field(
        default=0,
        ge=0,
        # STYLECAT_TORCH_THREADS: its name while the workers ran torch, still read
        validation_alias=AliasChoices("STYLECAT_MODEL_THREADS", "STYLECAT_TORCH_THREADS", "model_threads"),
    )
    """Threads of the model's forward pass (and of a batch's decoding) per worker child or inference
    server; 0: the available cores (cpuset, cgroup CPU quota) divided among a worker's children, or,
    in the inference server, between its forward pass and its decoding (core/threads.py)."""

    # Inference server (`stylecat serve-model`, the SageMaker container)
    inference_model_dir: Path | None = None
    """Serve this model folder (a logged pyfunc, e.g. /opt/ml/model, or a weights folder) instead of
    `model_uri` from the registry."""
    inference_port: int = Field(default=8080, validation_alias=AliasChoices("PORT", "STYLECAT_INFERENCE_PORT"))
    """SageMaker's port; `PORT` overrides it, as the container contract allows."""
    inference_remote_inputs: bool = False
    """Let `/invocations` take s3:// and http(s) inputs, read with the server's own role and network
    (under the same allow-lists as `register`); off: base64 and raw image bodies only."""
    inference_max_request_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    """Image bytes one request may bring in, all inputs together (fetched ones included)."""
    inference_concurrency: int = Field(default=2, ge=1)
    """Requests decoded at once; the others wait their turn."""
    inference_max_batch: int = Field(default=32, ge=1)
    """Images of concurrent requests merged into one forward pass, at most."""
    inference_batch_wait_ms: float = Field(default=5.0, ge=0)
    """How long a forward pass waits for more requests, only while other requests are decoding."""

    # Storage of uploaded bytes
    storage: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None
    """Folder of the local store; default `stack_dir/images`."""
    s3_bucket: str = ""
    s3_prefix: str = "images/"
    s3_endpoint_url: str | None = None
    """An S3-compatible server instead of AWS (the local stack's S3Proxy: `stylecat stack env`)."""
    aws_region: str = "us-east-1"

    # Input limits
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    """Larger images are refused as decompression bombs."""
    s3_allowed_sources: list[str] = []
    """`bucket` or `bucket/prefix` entries that s3:// sources (registered, or sent to the inference
    server) may name, besides the store's own `s3_bucket/s3_prefix`; anything else is refused."""
    url_allowed_hosts: list[str] = []
    """Hosts that registered http(s) sources may name; empty: any host with a public address."""
    allow_private_urls: bool = False
    """Let http(s) sources resolve to loopback/private addresses (tests and closed networks only)."""
    fetch_timeout: float = Field(default=10.0, gt=0)
    fetch_concurrency: int = Field(default=16, ge=1)
    """Images of a batch fetched at once (from S3 or URLs, where each is a round trip)."""

    # Pipeline
    opensearch_index: str = "illustrations"
    """The alias that search reads and the indexer writes; it points at a versioned index."""
    model_recheck_interval: float = Field(default=30.0, gt=0)
    """Seconds between a worker's look-ups of the model alias (a moved alias is followed); while the
    registry is unreachable the loaded version keeps serving."""
    max_attempts: int = Field(default=5, ge=1)
    """Attempts per image before it is failed with code `too_many_attempts`."""
    rate_limit_per_minute: int = Field(default=12_000, ge=0)
    """Requests a minute per API key to the routes that need a key (429 past it); 0: no limit."""
    max_live_queue: int = Field(default=20_000, ge=0)
    """Uploads and registrations get 503 while the live queue holds more jobs than this; 0: no limit."""
    max_transient_failures: int = Field(default=8, ge=1)
    """Times an image's source may be briefly unavailable (a URL answering 503, storage away) before
    the image is failed with `source_unavailable`; each is retried alone, with backoff up to 2 min."""
    stale_after: int = Field(default=600, gt=0)
    """Seconds after which the sweeper re-enqueues an image left queued or processing."""
    sweep_interval: float = Field(default=60.0, gt=0)
    """Seconds between sweeper runs (beat)."""
    index_interval: float = Field(default=30.0, gt=0)
    """Seconds between periodic indexer runs (beat): search catches up even if no write asks."""
    index_debounce: float = Field(default=0.05, ge=0)
    """Seconds the indexer waits after a write, so that many writes share one bulk request."""
    backfill_index_debounce: float = Field(default=0.5, ge=0)
    """The same after a backfill's writes: fewer, larger bulk requests (each ends with a refresh)."""
    backfill_batch_size: int = Field(default=64, ge=1, le=1000)
    live_batch_size: int = Field(default=32, ge=1, le=1000)
    """Live uploads gathered into one forward pass and one transaction, at most."""
    live_batch_wait_ms: float = Field(default=20.0, gt=0, le=1000)
    """How long the first live upload of a batch waits for others; on an idle system, its whole wait."""

    # Celery
    task_soft_time_limit: int = 120
    """Seconds before a task gets SoftTimeLimitExceeded (and marks its images failed)."""
    task_time_limit: int = 180
    """Seconds before the child running a task is killed."""
    broker_visibility_timeout: int = 3 * 3600
    """Seconds before Redis redelivers an unacknowledged job; must exceed `task_time_limit`."""
    worker_max_memory_per_child: int = 2_000_000
    """KiB of resident memory after which a worker child is replaced (the model reloads in the new one)."""

    # Clients
    api_key: SecretStr = SecretStr("")
    """The key `stylecat upload` sends (`stylecat keys create --scope upload` issues one)."""

    # Flower
    flower_user: str = ""
    flower_password: SecretStr = SecretStr("")

    # The training corpus (`stylecat dataset build`)
    cache_dir: Path = Path("~/.cache/stylecat")
    """Downloaded packages (npm tarballs, Debian .debs) and node tools the corpus build reuses."""

    # The local stack (`stylecat stack ...`)
    stack_dir: Path = Path(".stack")
    opensearch_heap: str = Field(default="768m", pattern=r"^([1-9]\d{1,2}m|10[01]\dm|102[0-4]m|1g)$")
    """JVM heap of the local OpenSearch node (at most 1g)."""
    java_home: Path | None = None
    """JDK for the local OpenSearch node; default: the newest under /usr/lib/jvm or `java` on PATH."""

    @model_validator(mode="after")
    def _check_time_limits(self) -> "Settings":
        if self.broker_visibility_timeout <= self.task_time_limit:
            raise ValueError("broker_visibility_timeout must exceed task_time_limit, or jobs run twice")
        if self.stale_after <= self.task_time_limit:
            raise ValueError("stale_after must exceed task_time_limit, or the sweeper re-runs live tasks")
        return self

    @model_validator(mode="after")
    def _check_production_secrets(self) -> "Settings":
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("STYLECAT_STORAGE=s3 needs STYLECAT_S3_BUCKET")
        if self.environment == "production":
            self._refuse_placeholder_secrets()
            if self.storage == "local" and "storage_dir" not in self.model_fields_set:
                raise ValueError(
                    "in production the API and the workers must reach the same store: set STYLECAT_STORAGE=s3 "
                    "(and STYLECAT_S3_BUCKET), or STYLECAT_STORAGE_DIR to a volume every process mounts"
                )
        return self

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        self.stack_dir = self.stack_dir.expanduser().resolve()
        self.cache_dir = self.cache_dir.expanduser().resolve()
        self.storage_dir = (self.storage_dir or self.stack_dir / "images").expanduser().resolve()
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = f"sqlite:///{self.stack_dir / 'mlflow' / 'mlflow.db'}"
        return self

    def _refuse_placeholder_secrets(self) -> None:
        from sqlalchemy.engine import make_url  # here: a process that never opens the database skips its import

        if make_url(self.database_url).password in PLACEHOLDER_SECRETS:
            raise ValueError("the database password is a placeholder; set a real one in production")
        if len(self.flower_password.get_secret_value()) < 12 or not self.flower_user:
            raise ValueError("set STYLECAT_FLOWER_USER and a STYLECAT_FLOWER_PASSWORD of 12+ characters")


@lru_cache
def get_settings() -> Settings:
    return Settings()
