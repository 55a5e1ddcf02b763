"""The inference server's cross-request batcher, on its own (no server, no model): what it merges,
what it does not make wait, and how each request gets its own rows back."""

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from inference.batching import ForwardBatcher

pytestmark = pytest.mark.unit
T = TypeVar("T")


class Model:
    """Row i of the answer is the sum of image i's pixels, so rows can be traced to images."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(len(images))
        if self.fail:
            raise RuntimeError("the model failed")
        return images.reshape(len(images), -1).sum(axis=1, keepdims=True)


def _images(*values: float) -> np.ndarray:
    return np.stack([np.full((2, 2, 3), v, dtype=np.float32) for v in values])


async def _with(batcher: ForwardBatcher, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` with the batcher's consumer running beside it."""
    runner = asyncio.create_task(batcher.run())
    try:
        return await work
    finally:
        runner.cancel()


def test_a_lone_request_does_not_wait_for_company() -> None:
    model = Model()
    batcher = ForwardBatcher(model, max_batch=32, max_wait=2.0)

    async def lone() -> tuple[np.ndarray, float]:
        started = time.monotonic()
        rows = await batcher.submit(_images(1))
        return rows, time.monotonic() - started

    rows, waited = asyncio.run(_with(batcher, lone()))
    assert waited < 0.5 and model.calls == [1] and rows.tolist() == [[12.0]]


def test_concurrent_requests_share_one_forward_pass_and_get_their_own_rows_in_order() -> None:
    model = Model()
    batcher = ForwardBatcher(model, max_batch=32, max_wait=1.0)

    async def three() -> list[np.ndarray]:
        batcher.decoding = 2  # two more requests are still decoding when the first one submits
        first = asyncio.create_task(batcher.submit(_images(1, 2)))
        await asyncio.sleep(0.05)
        batcher.decoding = 1
        second = asyncio.create_task(batcher.submit(_images(3)))
        await asyncio.sleep(0.05)
        batcher.decoding = 0
        third = asyncio.create_task(batcher.submit(_images(4, 5, 6)))
        return list(await asyncio.gather(first, second, third))

    first, second, third = asyncio.run(_with(batcher, three()))
    assert model.calls == [6]
    assert (first.tolist(), second.tolist(), third.tolist()) == ([[12.0], [24.0]], [[36.0]], [[48.0], [60.0], [72.0]])
    assert batcher.stats() == {"forward_passes": 1, "images": 6, "mean_batch": 6.0}


def test_a_batch_closes_at_max_batch_and_after_max_wait() -> None:
    model = Model()
    batcher = ForwardBatcher(model, max_batch=2, max_wait=0.05)

    async def crowd() -> None:
        batcher.decoding = 1  # someone is always said to be coming: only the limits close a batch
        await asyncio.gather(*(batcher.submit(_images(v)) for v in (1, 2, 3)))

    started = time.monotonic()
    asyncio.run(_with(batcher, crowd()))
    assert model.calls == [2, 1] and time.monotonic() - started < 1


def test_a_model_failure_reaches_every_request_of_its_batch() -> None:
    batcher = ForwardBatcher(Model(fail=True), max_batch=32, max_wait=0.01)

    async def two() -> list[object]:
        return list(
            await asyncio.gather(batcher.submit(_images(1)), batcher.submit(_images(2)), return_exceptions=True)
        )

    answers = asyncio.run(_with(batcher, two()))
    assert all(isinstance(answer, RuntimeError) for answer in answers)
