"""The local stack: real PostgreSQL, Redis, OpenSearch and S3-compatible (S3Proxy) servers started
from this machine's packages.

`up` starts whatever does not answer at the configured URLs and is safe to run twice; `down` stops
only what `up` started (a marker file in the service's folder says so).
"""

from core.settings import Settings
from stylecat.stack import s3proxy
from stylecat.stack.base import Service, StackError
from stylecat.stack.opensearch import OpenSearch
from stylecat.stack.postgres import Postgres
from stylecat.stack.redis import Redis
from stylecat.stack.s3proxy import S3Proxy

__all__ = [
    "SERVICE_NAMES",
    "OpenSearch",
    "Postgres",
    "Redis",
    "S3Proxy",
    "Service",
    "StackError",
    "env_lines",
    "services",
]

SERVICE_NAMES = ("postgres", "redis", "opensearch", "s3")
_CLASSES: dict[str, type[Service]] = {"postgres": Postgres, "redis": Redis, "opensearch": OpenSearch, "s3": S3Proxy}


def services(settings: Settings, only: list[str] | None = None) -> list[Service]:
    unknown = set(only or ()) - set(SERVICE_NAMES)
    if unknown:
        raise StackError(f"unknown service(s) {sorted(unknown)}; choose from {', '.join(SERVICE_NAMES)}")
    return [_CLASSES[name](settings) for name in SERVICE_NAMES if not only or name in only]


def env_lines(settings: Settings) -> list[str]:
    """`export` lines that point a shell at this stack."""
    values = {
        "STYLECAT_DATABASE_URL": settings.database_url,
        "STYLECAT_REDIS_URL": settings.redis_url,
        "STYLECAT_OPENSEARCH_URL": settings.opensearch_url,
        "STYLECAT_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "STYLECAT_STACK_DIR": str(settings.stack_dir),
        "STYLECAT_S3_ENDPOINT_URL": settings.s3_endpoint_url or s3proxy.URL,
        "AWS_ACCESS_KEY_ID": s3proxy.IDENTITY,
        "AWS_SECRET_ACCESS_KEY": s3proxy.CREDENTIAL,
    }
    return [f"export {key}='{value}'" for key, value in values.items()]
