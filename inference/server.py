"""SageMaker-compatible model server: `GET /ping`, `POST /invocations` (and
`POST /endpoints/{name}/invocations`, so the real boto3 `sagemaker-runtime` client can be pointed at
it with `endpoint_url`).

Requests: `application/json` `{"inputs": [ref, ...]}` (ref: base64 image bytes, `s3://` URI or an
http(s) URL under the same rules as the upload API), or one raw image body of a media type in
core/formats.py (`image/jpeg`, `image/png`, ...). Answer: `{"predictions": [...], "model": {"name",
"version"}}` in input order. Each request decodes its images in a worker thread; the decoded images
of concurrent requests share forward passes (batching.py), so the event loop stays free and many
small requests cost about what one batch costs. `/ping` reports the batching so far.

Errors are explicit: 400 malformed JSON or empty inputs, 413 a body over SageMaker's real-time
limit (6 MB), 415 another media type, 503 while the model loads. An image that cannot be fetched or
decoded does not fail its batch: its place in `predictions` holds `{"error": {"code", "message"}}`.

Resource limits: s3:// and http(s) inputs only when `inference_remote_inputs` is on (else
`remote_inputs_disabled`); `inference_max_request_bytes` of image bytes per request (the inputs past
it get `over_budget`); `inference_concurrency` requests decoded at once; and a pixel limit per image
that fits the container's memory (limits.py).

The server listens on 0.0.0.0:8080 in its container because SageMaker's contract says so; SageMaker
authenticates callers (IAM) in front of it. Run elsewhere, `stylecat serve-model` binds loopback.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core.allocator import keep_freed_memory
from core.formats import BY_MEDIA_TYPE
from core.settings import Settings, get_settings
from core.threads import model_threads
from images.fetch import FetchError, fetch
from inference.batching import ForwardBatcher
from inference.limits import memory_limit, pixel_budget
from inference.loading import LoadedModel, load
from model.predictor import to_result
from model.preprocess import ImageDecodeError

log = logging.getLogger(__name__)

SAGEMAKER_MAX_BODY = 6_291_456  # bytes: the real-time endpoint's payload limit
MAX_INPUTS = 256
RAW_TYPES = set(BY_MEDIA_TYPE)

REMOTE_PREFIXES = ("s3://", "http://", "https://")

state: dict[str, LoadedModel] = {}
batcher: dict[str, ForwardBatcher] = {}


@dataclass
class Limits:
    pixels: int = 0
    """Per image (limits.py)."""
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    """Requests decoding and predicting now."""


limits = Limits()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Load the model once, in the background: /ping answers 503 until it is ready."""

    async def load_in_background() -> None:
        # The forward pass shares the cores with the requests' decoding and the event loop.
        model = await run_in_threadpool(load, settings, model_threads(settings, 2))
        batcher["forward"] = ForwardBatcher(
            model.predictor.probabilities, settings.inference_max_batch, settings.inference_batch_wait_ms / 1000
        )
        state["model"] = model
        log.info("model %s version %s loaded", model.name, model.version)
        await batcher["forward"].run()

    settings = get_settings()
    keep_freed_memory()
    limits.pixels = pixel_budget(settings, memory_limit())
    limits.slots = asyncio.Semaphore(settings.inference_concurrency)
    log.info("decoding %d requests at once, at most %d pixels an image", settings.inference_concurrency, limits.pixels)
    task = asyncio.create_task(load_in_background())
    yield
    task.cancel()


app = FastAPI(title="stylecat inference", lifespan=lifespan)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@app.get("/ping")
def ping() -> JSONResponse:
    if "model" not in state:
        return error(503, "loading", "the model is still loading")
    return JSONResponse({"status": "ok", "model": state["model"].describe(), "batching": batcher["forward"].stats()})


def _inputs(refs: list[str], settings: Settings) -> list[bytes | FetchError]:
    """Each input's bytes or why not, in order, within the request's byte budget."""
    fetched: list[bytes | FetchError] = []
    left = settings.inference_max_request_bytes
    for ref in refs:
        try:
            if ref.startswith(REMOTE_PREFIXES) and not settings.inference_remote_inputs:
                raise FetchError("remote_inputs_disabled", "this server takes base64 inputs only")
            if left < 0:
                raise FetchError("over_budget", "the request's earlier inputs used its byte budget")
            data = fetch(ref, settings)
            left -= len(data)
            if left < 0:
                raise FetchError("over_budget", f"inputs over {settings.inference_max_request_bytes} bytes together")
            fetched.append(data)
        except FetchError as exc:
            fetched.append(exc)
    return fetched


Decoded = np.ndarray | FetchError | ImageDecodeError


def _decode(model: LoadedModel, refs: list[str] | None, raw: bytes | None) -> list[Decoded]:
    """Each input fetched and decoded to the model's input size, or why not, in input order."""
    fetched = _inputs(refs or [], get_settings())
    if raw is not None:
        fetched.append(raw)
    decoded: list[Decoded] = []
    for item in fetched:
        try:
            decoded.append(item if isinstance(item, FetchError) else model.predictor.pixels(item, limits.pixels))
        except ImageDecodeError as exc:
            decoded.append(exc)
    return decoded


async def _predict(model: LoadedModel, refs: list[str] | None, raw: bytes | None) -> list[dict[str, Any]]:
    forward = batcher["forward"]
    forward.decoding += 1
    try:
        async with limits.slots:
            decoded = await run_in_threadpool(_decode, model, refs, raw)
    finally:
        forward.decoding -= 1
    images = [item for item in decoded if isinstance(item, np.ndarray)]
    rows = iter(await forward.submit(np.stack(images)) if images else [])
    answer: list[dict[str, Any]] = []
    for item in decoded:
        if isinstance(item, np.ndarray):
            answer.append(to_result(next(rows)).as_contract())
        else:
            answer.append({"error": {"code": item.code, "message": item.message}})
    return answer


async def _body_within_limit(request: Request) -> bytes | None:
    """The body, counted as it arrives (a chunked body declares no length); None past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > SAGEMAKER_MAX_BODY):
        return None
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > SAGEMAKER_MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@app.post("/invocations")
@app.post("/endpoints/{endpoint_name}/invocations")
async def invocations(request: Request) -> JSONResponse:
    if "model" not in state:
        return error(503, "loading", "the model is still loading")
    body = await _body_within_limit(request)
    if body is None:
        too_large = error(413, "too_large", f"body over SageMaker's real-time limit of {SAGEMAKER_MAX_BODY} bytes")
        too_large.headers["connection"] = "close"  # the rest of the body is not read
        return too_large
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    refs: list[str] | None = None
    raw: bytes | None = None
    if content_type == "application/json":
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return error(400, "bad_json", "the body is not valid JSON")
        refs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(refs, list) or not refs or not all(isinstance(ref, str) for ref in refs):
            return error(400, "bad_inputs", 'expected {"inputs": [<base64 | s3:// | https://>, ...]} with 1+ strings')
        if len(refs) > MAX_INPUTS:
            return error(400, "too_many_inputs", f"at most {MAX_INPUTS} inputs per request")
    elif content_type in RAW_TYPES:
        if not body:
            return error(400, "empty", "empty image body")
        raw = body
    else:
        return error(
            415,
            "unsupported_media_type",
            f"send application/json or one of {sorted(RAW_TYPES)}, not {content_type or 'nothing'!r}",
        )
    model = state["model"]
    predictions = await _predict(model, refs, raw)
    return JSONResponse({"predictions": predictions, "model": model.describe()})
