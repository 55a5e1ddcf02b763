"""Cross-request dynamic batching: the decoded images of concurrent requests go through the model
in one forward pass (as Triton's and TorchServe's dynamic batchers do), and each request gets its
own rows back, in order.

A batch closes at `max_batch` images, or `max_wait` seconds after its first request, whichever
comes first; and it does not wait at all when no other request is still decoding, so a lone
request pays nothing for the batching. Decoding stays per request (in worker threads, in
parallel); only the forward pass, which gains most from a bigger batch, is shared.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    images: np.ndarray
    answer: asyncio.Future[np.ndarray]


@dataclass
class ForwardBatcher:
    forward: Callable[[np.ndarray], np.ndarray]
    """Images (N, H, W, C) to probability rows (N, classes)."""
    max_batch: int = 32
    max_wait: float = 0.005
    decoding: int = 0
    """Requests decoding now: each will submit soon, so a batch may wait for them."""
    forward_passes: int = 0
    images_seen: int = 0
    _queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)

    async def submit(self, images: np.ndarray) -> np.ndarray:
        """The probability rows of `images` (one or more), once their batch has run."""
        pending = _Pending(images, asyncio.get_running_loop().create_future())
        await self._queue.put(pending)
        return await pending.answer

    async def run(self) -> None:
        """The one consumer: gather a batch, run it, hand each request its rows; forever."""
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].images)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                if self._queue.empty() and self.decoding == 0:
                    break  # nobody else is coming: do not make this request wait
                try:
                    pending = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
                batch.append(pending)
                size += len(pending.images)
            await self._forward(batch)

    async def _forward(self, batch: list[_Pending]) -> None:
        try:
            rows = await run_in_threadpool(self.forward, np.concatenate([p.images for p in batch]))
        except Exception as exc:  # the model failed: every request of the batch gets the error
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
            return
        self.forward_passes += 1
        self.images_seen += len(rows)
        start = 0
        for pending in batch:
            if not pending.answer.done():  # a caller that went away
                pending.answer.set_result(rows[start : start + len(pending.images)])
            start += len(pending.images)

    def stats(self) -> dict[str, float]:
        mean = self.images_seen / self.forward_passes if self.forward_passes else 0.0
        return {"forward_passes": self.forward_passes, "images": self.images_seen, "mean_batch": round(mean, 2)}
