"""A worker's batch from the S3-compatible store with latency added to every request, against the
same batch from the local store, in one run (#13 item 4).

The stack's S3Proxy answers in about a millisecond on loopback, so a TCP proxy in front of it holds
every request `--latency-ms` before passing it on, as a store across a network would. Each batch
is what the worker does before its one write transaction: fetch every image (`_fetch_all`, with
`STYLECAT_FETCH_CONCURRENCY` at once) and run the model on them.

    .venv/bin/python -m bench.remote_store [--images 64] [--latency-ms 20] [--repeats 5]

Ends with one JSON line of figures.
"""

import argparse
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import jpegs_800px, median_seconds
from core.settings import get_settings
from core.threads import model_threads
from images.storage import ensure_store, store
from worker.categorize import _fetch_all
from worker.local import LocalClassifier

BUCKET = "stylecat-bench"


@contextmanager
def delaying_proxy(upstream: str, delay: float) -> Iterator[str]:
    """A TCP proxy on loopback that holds each chunk a client sends for `delay` seconds."""
    host, port = upstream.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump(source: socket.socket, target: socket.socket, hold: float) -> None:
        try:
            while data := source.recv(65536):
                if hold:
                    time.sleep(hold)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection((host, int(port)))
            threading.Thread(target=pump, args=(client, server, delay), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, 0.0), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base = get_settings()
    assert base.s3_endpoint_url, 'run against the stack: eval "$(stylecat stack env)"'
    images = jpegs_800px(args.images)
    s3 = base.model_copy(update={"storage": "s3", "s3_bucket": BUCKET})
    ensure_store(s3)

    def refs(settings_: object) -> list[tuple[int, str]]:
        return [
            (
                i,
                store(
                    data,
                    sha256=hashlib.sha256(data).hexdigest(),
                    extension="jpg",
                    content_type="image/jpeg",
                    settings=settings_,
                ),
            )  # type: ignore[arg-type]
            for i, data in enumerate(images)
        ]

    local_refs, s3_refs = refs(base), refs(s3)
    classifier = LocalClassifier(base, threads=model_threads(base, 1))
    classifier.current_model()  # loaded before timing

    def batch(claimed: list[tuple[int, str]], settings_: object) -> None:
        fetched, errors, unavailable = _fetch_all(claimed, settings_)  # type: ignore[arg-type]
        assert len(fetched) == len(claimed), (errors, unavailable)
        classifier.classify([data for _, data in fetched])

    figures: dict[str, object] = {"bench": "remote_store", "images": args.images, "latency_ms": args.latency_ms}
    rate = {}
    with delaying_proxy(s3.s3_endpoint_url or "", args.latency_ms / 1000) as slow:
        runs = {
            "local": (local_refs, base),
            "s3_sequential": (s3_refs, s3.model_copy(update={"s3_endpoint_url": slow, "fetch_concurrency": 1})),
            "s3_concurrent": (s3_refs, s3.model_copy(update={"s3_endpoint_url": slow})),
        }
        for name, (claimed, settings_) in runs.items():
            seconds = median_seconds(lambda c=claimed, s=settings_: batch(c, s), repeats=args.repeats)
            rate[name] = args.images / seconds
            figures[f"{name}_img_s"] = round(rate[name], 1)
    figures["fetch_concurrency"] = base.fetch_concurrency
    figures["s3_concurrent_over_local"] = round(rate["s3_concurrent"] / rate["local"], 2)
    figures["s3_sequential_over_local"] = round(rate["s3_sequential"] / rate["local"], 2)
    for name, value in rate.items():
        print(f"{name:<16}{value:>10.1f} img/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
