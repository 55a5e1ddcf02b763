"""The `sagemaker` classifier backend: boto3 `sagemaker-runtime` `invoke_endpoint`.

Batches are split to stay under the 6 MB real-time payload limit (large images are shrunk first).
Throttling, 5xx and network trouble raise `TransientError`, which the Celery task retries with
backoff (botocore itself tries at most twice, so the two retry layers don't multiply into a storm).
A `ModelError` with a 4xx original status splits the batch until the image at fault is found; that
image gets the endpoint's message, the others their predictions.

The challenger is a second endpoint (`sagemaker_challenger_endpoint`): the images it is meant for
are encoded once and sent to both; when it fails, the batch goes on with the champion alone.
"""

import base64
import io
import json
import logging
import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from core.settings import Settings
from db.writes import ModelRef
from model.predictor import StyleResult
from model.preprocess import ImageDecodeError, load_image
from worker.classifier import Classified, Results, TransientError, everything

log = logging.getLogger(__name__)

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


class Endpoint:
    """One SageMaker endpoint, and the model version behind it as its answers name it."""

    def __init__(self, settings: Settings, name: str, url: str | None, recheck: float) -> None:
        self.settings = settings
        self.name = name
        self.recheck = recheck
        config = Config(connect_timeout=5, read_timeout=70, retries={"mode": "standard", "total_max_attempts": 2})
        self.client = boto3.client(
            "sagemaker-runtime", region_name=settings.aws_region, endpoint_url=url, config=config
        )
        self._lock = threading.Lock()
        self._model: ModelRef | None = None
        self._seen_at = 0.0

    def _invoke(self, refs: list[str]) -> dict[str, Any]:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.name,
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

    def current(self) -> ModelRef:
        """The version behind the endpoint, learnt from its answers (a 1-pixel probe if none is recent)."""
        if self._model is None or time.monotonic() - self._seen_at > self.recheck:
            self._invoke([_PROBE])
        assert self._model is not None
        return self._model

    def run(self, refs: list[str]) -> Results:
        """Per base64 input, in order: requests of at most PAYLOAD_BUDGET bytes each."""
        results: Results = []
        chunk: list[str] = []
        size = 0
        for ref in refs:
            if chunk and size + len(ref) + 4 > PAYLOAD_BUDGET:
                results += self._run_chunk(chunk)
                chunk, size = [], 0
            chunk.append(ref)
            size += len(ref) + 4
        return results + (self._run_chunk(chunk) if chunk else [])

    def _run_chunk(self, refs: list[str]) -> Results:
        try:
            predictions = self._invoke(refs)["predictions"]
        except _Refused as refused:
            if len(refs) == 1:
                return [ImageDecodeError("endpoint_refused", refused.message)]
            middle = len(refs) // 2
            return self._run_chunk(refs[:middle]) + self._run_chunk(refs[middle:])
        return [
            ImageDecodeError(p["error"]["code"], p["error"]["message"])
            if "error" in p
            else StyleResult(pred=p["pred"], probs=p["probs"])
            for p in predictions
        ]


class SageMakerClassifier:
    """The champion's endpoint and, when `sagemaker_challenger_endpoint` is set, the challenger's."""

    def __init__(self, settings: Settings, recheck: float = 60.0) -> None:
        self.settings = settings
        self._champion = Endpoint(settings, settings.sagemaker_endpoint, settings.sagemaker_endpoint_url, recheck)
        self._challenger = None
        if settings.sagemaker_challenger_endpoint:
            url = settings.sagemaker_challenger_endpoint_url or settings.sagemaker_endpoint_url
            self._challenger = Endpoint(settings, settings.sagemaker_challenger_endpoint, url, recheck)

    def current_model(self) -> ModelRef:
        return self._champion.current()

    def current_challenger(self) -> ModelRef | None:
        if self._challenger is None:
            return None
        try:
            return self._challenger.current()
        except (TransientError, ClientError) as exc:
            log.warning("the challenger's endpoint %s is unavailable: %s", self._challenger.name, exc)
            return None

    def classify(
        self, items: Sequence[bytes], champion: Collection[int] | None = None, challenger: Collection[int] = ()
    ) -> Classified:
        champion = everything(items, champion)
        payloads = self._payloads(items, sorted(set(champion) | set(challenger)))
        results = self._run(self._champion, payloads, champion)
        out = Classified(self._champion.current(), results)
        if not challenger:
            return out
        if self._challenger is None:
            out.challenger_error = "no challenger endpoint (STYLECAT_SAGEMAKER_CHALLENGER_ENDPOINT)"
            return out
        try:
            out.challenger_results = self._run(self._challenger, payloads, challenger)
            out.challenger = self._challenger.current()
        except (TransientError, ClientError) as exc:
            out.challenger_error = f"the challenger's endpoint {self._challenger.name}: {exc}"
        return out

    def _payloads(self, items: Sequence[bytes], indexes: list[int]) -> dict[int, str | ImageDecodeError]:
        """Each wanted item as base64, large images shrunk first; made once for both endpoints."""
        payloads: dict[int, str | ImageDecodeError] = {}
        for index in indexes:
            data = items[index]
            try:
                payload = data if len(data) <= SHRINK_OVER else shrink(data, self.settings.max_image_pixels)
            except ImageDecodeError as exc:
                payloads[index] = exc
                continue
            payloads[index] = base64.b64encode(payload).decode()
        return payloads

    @staticmethod
    def _run(
        endpoint: Endpoint, payloads: dict[int, str | ImageDecodeError], indexes: Collection[int]
    ) -> dict[int, StyleResult | ImageDecodeError]:
        results: dict[int, StyleResult | ImageDecodeError] = {}
        sent: list[tuple[int, str]] = []
        for index in sorted(indexes):
            payload = payloads[index]
            if isinstance(payload, ImageDecodeError):
                results[index] = payload
            else:
                sent.append((index, payload))
        answers = endpoint.run([ref for _, ref in sent]) if sent else []
        results |= {index: answer for (index, _), answer in zip(sent, answers, strict=True)}
        return results


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _probe_image() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 255, 255)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


_PROBE = _probe_image()
