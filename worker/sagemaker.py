"""The `sagemaker` classifier backend: boto3 `sagemaker-runtime` `invoke_endpoint`.

Batches are split to stay under the 6 MB real-time payload limit (large images are shrunk first).
Throttling, 5xx and network trouble raise `TransientError`, which the Celery task retries with
backoff (botocore itself tries at most twice, so the two retry layers don't multiply into a storm).
A `ModelError` with a 4xx original status splits the batch until the image at fault is found; that
image gets the endpoint's message, the others their predictions.
"""

import base64
import io
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from core.settings import Settings
from db.writes import ModelRef
from model.predictor import StyleResult
from model.preprocess import ImageDecodeError, load_image
from worker.classifier import Results, TransientError

PAYLOAD_BUDGET = 5_500_000  # bytes of JSON per request, under SageMaker's 6,291,456
SHRINK_OVER = 1_000_000  # bytes: larger images are re-encoded at most SHRINK_TO px before sending
SHRINK_TO = 1024
TRANSIENT_CODES = {"ThrottlingException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException"}


def shrink(data: bytes, max_pixels: int) -> bytes:
    """Decode here (bad images fail here, with the same codes as the local backend) and re-encode."""
    image = load_image(data, max_pixels=max_pixels, draft_size=SHRINK_TO)
    image.thumbnail((SHRINK_TO, SHRINK_TO))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


class SageMakerClassifier:
    def __init__(self, settings: Settings, recheck: float = 60.0) -> None:
        self.settings = settings
        self.recheck = recheck
        config = Config(connect_timeout=5, read_timeout=70, retries={"mode": "standard", "total_max_attempts": 2})
        self.client = boto3.client(
            "sagemaker-runtime",
            region_name=settings.aws_region,
            endpoint_url=settings.sagemaker_endpoint_url,
            config=config,
        )
        self._lock = threading.Lock()
        self._model: ModelRef | None = None
        self._seen_at = 0.0

    def _invoke(self, refs: list[str]) -> dict[str, Any]:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.settings.sagemaker_endpoint,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"inputs": refs}),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("OriginalStatusCode") or exc.response["ResponseMetadata"]["HTTPStatusCode"])
            if error.get("Code") in TRANSIENT_CODES or status >= 500 or status == 429:
                raise TransientError(f"endpoint: {error.get('Code')}: {error.get('Message')}") from exc
            if error.get("Code") == "ModelError":
                raise _Refused(str(exc.response.get("OriginalMessage") or error.get("Message"))) from exc
            raise  # a configuration error (unknown endpoint, no permission): loud, not retried
        except BotoCoreError as exc:  # connection refused, read timeout, ...
            raise TransientError(f"endpoint unreachable: {exc}") from exc
        answer: dict[str, Any] = json.loads(response["Body"].read())
        model = answer.get("model") or {}
        with self._lock:
            self._model = ModelRef(
                name=str(model.get("name", self.settings.model_name)),
                version=str(model.get("version", "unknown")),
                backend="sagemaker",
            )
            self._seen_at = time.monotonic()
        return answer

    def _current(self) -> ModelRef:
        """The version behind the endpoint, learnt from its answers (a 1-pixel probe if none is recent)."""
        if self._model is None or time.monotonic() - self._seen_at > self.recheck:
            self._invoke([_PROBE])
        assert self._model is not None
        return self._model

    def _classify_chunk(self, refs: list[str]) -> Results:
        try:
            predictions = self._invoke(refs)["predictions"]
        except _Refused as refused:
            if len(refs) == 1:
                return [ImageDecodeError("endpoint_refused", refused.message)]
            middle = len(refs) // 2
            return self._classify_chunk(refs[:middle]) + self._classify_chunk(refs[middle:])
        return [
            ImageDecodeError(p["error"]["code"], p["error"]["message"])
            if "error" in p
            else StyleResult(pred=p["pred"], probs=p["probs"])
            for p in predictions
        ]

    def current_model(self) -> ModelRef:
        return self._current()

    def classify(self, items: Sequence[bytes]) -> tuple[ModelRef, Results]:
        if not items:
            return self._current(), []
        results: list[StyleResult | ImageDecodeError | None] = [None] * len(items)
        chunk: list[tuple[int, str]] = []
        size = 0

        def flush() -> None:
            nonlocal chunk, size
            if chunk:
                for (index, _), result in zip(chunk, self._classify_chunk([ref for _, ref in chunk]), strict=True):
                    results[index] = result
            chunk, size = [], 0

        for index, data in enumerate(items):
            try:
                payload = data if len(data) <= SHRINK_OVER else shrink(data, self.settings.max_image_pixels)
            except ImageDecodeError as exc:
                results[index] = exc
                continue
            ref = base64.b64encode(payload).decode()
            if size + len(ref) + 4 > PAYLOAD_BUDGET:
                flush()
            chunk.append((index, ref))
            size += len(ref) + 4
        flush()
        return (self._model or self._current()), [r for r in results if r is not None]


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _probe_image() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 255, 255)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


_PROBE = _probe_image()
