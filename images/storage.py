"""Where uploaded bytes live: a local folder (default) or an S3 bucket, addressed by content hash.

A stored image is named by a reference: `local:<aa>/<sha256>.<ext>` or `s3://bucket/key`.
"""

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.formats import EXTENSIONS
from core.settings import Settings, get_settings
from core.waiting import wait_for

LOCAL_PREFIX = "local:"
_LOCAL_KEY = re.compile(rf"^[0-9a-f]{{2}}/[0-9a-f]{{64}}\.({'|'.join(EXTENSIONS)})$")


class StorageError(Exception):
    """A reference that names nothing this store may serve, or a store that failed."""


def content_key(sha256: str, extension: str) -> str:
    return f"{sha256[:2]}/{sha256}.{extension}"


@lru_cache
def s3_client(endpoint_url: str | None, region: str) -> Any:
    """One client per process and endpoint (a forked child makes its own: see `register_at_fork` below).
    It stores uploads and thumbnails and signs the workers' reads (`s3_reads`)."""
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "total_max_attempts": 3},
        signature_version="s3v4",  # also for presigned URLs, where botocore would otherwise sign with SigV2
        max_pool_connections=64,  # the API's request threads store uploads at once
        # checksums only where S3 requires them: S3-compatible servers (S3Proxy, older MinIO) refuse
        # the trailing checksums that boto3 sends by default since 1.36
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


@lru_cache
def s3_reads() -> urllib3.PoolManager:
    """Kept-alive connections for reading objects through URLs that boto3 presigns: a GET that way
    costs a worker about half the CPU of boto3's `get_object` (0.58 against 0.99 ms an image,
    S3Proxy on loopback), which on a busy node is what a backfill from a remote store pays for.
    `images.fetch` retries; this pool does not."""
    return urllib3.PoolManager(maxsize=64, retries=False, timeout=urllib3.Timeout(connect=5, read=30))


os.register_at_fork(after_in_child=s3_reads.cache_clear)  # a forked child opens its own connections
os.register_at_fork(after_in_child=s3_client.cache_clear)


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
        _write_atomically(path, data)
    return ref


_DERIVED_NAME = re.compile(r"^[0-9a-f]{64}-[0-9]{1,4}\.webp$")


def _derived_key(name: str) -> str:
    if not _DERIVED_NAME.fullmatch(name):
        raise StorageError(f"not a derived file name: {name[:100]!r}")
    return f"derived/{name[:2]}/{name}"


def load_derived(name: str, settings: Settings) -> bytes | None:
    """A file made from a stored image (a thumbnail), or None if it has not been made yet."""
    key = _derived_key(name)
    if settings.storage == "s3":
        try:
            answer = s3_client(settings.s3_endpoint_url, settings.aws_region).get_object(
                Bucket=settings.s3_bucket, Key=f"{settings.s3_prefix}{key}"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return None
            raise
        return bytes(answer["Body"].read())
    assert settings.storage_dir is not None
    try:
        return (settings.storage_dir / key).read_bytes()
    except FileNotFoundError:
        return None


def save_derived(name: str, data: bytes, content_type: str, settings: Settings) -> None:
    key = _derived_key(name)
    if settings.storage == "s3":
        s3_client(settings.s3_endpoint_url, settings.aws_region).put_object(
            Bucket=settings.s3_bucket, Key=f"{settings.s3_prefix}{key}", Body=data, ContentType=content_type
        )
        return
    assert settings.storage_dir is not None
    _write_atomically(settings.storage_dir / key, data)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temporary file per writer: identical writes racing here must not share one
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
    ) as partial:
        partial.write(data)
    Path(partial.name).replace(path)  # atomic: a reader never sees half a file


def ensure_store(settings: Settings, wait: float = 120) -> str:
    """Make the store ready for every process: the S3 bucket (waiting up to `wait` seconds for the
    server to answer, as a one-shot container starts beside it), or the local folder, written to
    once. Returns what it checked."""
    if settings.storage == "s3":
        client = s3_client(settings.s3_endpoint_url, settings.aws_region)

        def bucket_ready() -> bool:
            try:
                client.head_bucket(Bucket=settings.s3_bucket)
                return True
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in ("404", "NoSuchBucket"):
                    raise StorageError(f"bucket {settings.s3_bucket!r}: {code}") from None
                client.create_bucket(Bucket=settings.s3_bucket)
                return True
            except (BotoCoreError, OSError):
                return False

        wait_for(bucket_ready, wait, f"the S3 endpoint {settings.s3_endpoint_url or 'AWS'}")
        return f"s3://{settings.s3_bucket}/{settings.s3_prefix}"
    assert settings.storage_dir is not None
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    probe = settings.storage_dir / f".write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    return str(settings.storage_dir)
