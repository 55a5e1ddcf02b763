"""Where uploaded bytes live: a local folder (default) or an S3 bucket, addressed by content hash.

A stored image is named by a reference: `local:<aa>/<sha256>.<ext>` or `s3://bucket/key`.
"""

import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from core.formats import EXTENSIONS
from core.settings import Settings, get_settings

LOCAL_PREFIX = "local:"
_LOCAL_KEY = re.compile(rf"^[0-9a-f]{{2}}/[0-9a-f]{{64}}\.({'|'.join(EXTENSIONS)})$")


class StorageError(Exception):
    """A reference that names nothing this store may serve, or a store that failed."""


def content_key(sha256: str, extension: str) -> str:
    return f"{sha256[:2]}/{sha256}.{extension}"


@lru_cache
def s3_client(endpoint_url: str | None, region: str) -> Any:
    """One client per process and endpoint (boto3 clients are not shared across forks)."""
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "total_max_attempts": 3},
        # checksums only where S3 requires them: S3-compatible servers (S3Proxy, older MinIO) refuse
        # the trailing checksums that boto3 sends by default since 1.36
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def local_path(ref: str, settings: Settings) -> Path:
    """The file behind a `local:` reference; anything that could leave the storage folder is refused."""
    key = ref.removeprefix(LOCAL_PREFIX)
    if not ref.startswith(LOCAL_PREFIX) or not _LOCAL_KEY.fullmatch(key):
        raise StorageError(f"not a local storage reference: {ref[:100]!r}")
    assert settings.storage_dir is not None
    return settings.storage_dir / key


def store(data: bytes, *, sha256: str, extension: str, content_type: str, settings: Settings | None = None) -> str:
    """Store the bytes (idempotent: same content, same reference) and return the reference."""
    settings = settings or get_settings()
    key = content_key(sha256, extension)
    if settings.storage == "s3":
        s3_key = f"{settings.s3_prefix}{key}"
        s3_client(settings.s3_endpoint_url, settings.aws_region).put_object(
            Bucket=settings.s3_bucket, Key=s3_key, Body=data, ContentType=content_type
        )
        return f"s3://{settings.s3_bucket}/{s3_key}"
    ref = LOCAL_PREFIX + key
    path = local_path(ref, settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary file per writer: identical uploads racing here must not share one
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
        ) as partial:
            partial.write(data)
        Path(partial.name).replace(path)  # atomic: a reader never sees half a file
    return ref
