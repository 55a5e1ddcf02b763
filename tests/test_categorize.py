"""The categorize domain function with a stand-in classifier (no torch): bad images fail with a code,
the others are written, and a source briefly away is retried alone within its own budget."""

import os
import signal
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from http.server import BaseHTTPRequestHandler

import pytest

from core.settings import Settings
from db.models import Image
from db.session import session_scope
from db.writes import ModelRef
from images.storage import store
from model.predictor import StyleResult
from model.preprocess import ImageDecodeError, load_image
from tests.factories import PROBS, image_row, plain_png
from tests.processes import Unavailable, http_source
from worker.categorize import Summary, _fetch_all, _fetchers, categorize
from worker.classifier import Classified

MODEL = ModelRef(name="style-cnn", version="9", backend="local")


class StandIn:
    """Decodes with the real preprocessing, then says `flat` for every image that decodes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def current_model(self) -> ModelRef:
        return MODEL

    def current_challenger(self) -> ModelRef | None:
        return None

    def classify(
        self, items: Sequence[bytes], champion: Collection[int] | None = None, challenger: Collection[int] = ()
    ) -> Classified:
        assert champion is not None and not challenger  # categorize names the champion's items
        if champion:
            self.batches.append(len(champion))
        results: dict[int, StyleResult | ImageDecodeError] = {}
        for n in champion:
            try:
                load_image(items[n])
                results[n] = StyleResult("flat", PROBS["flat"])
            except ImageDecodeError as exc:
                results[n] = exc
        return Classified(MODEL, results)


def _stored(data: bytes, settings: Settings, name: str) -> str:
    return store(data, sha256=name * 32, extension="png", content_type="image/png", settings=settings)


def test_one_batch_one_forward_pass_bad_images_fail_with_codes(clean_tables: None, settings: Settings) -> None:
    good = _stored(plain_png(), settings, "a1")
    truncated = _stored(plain_png((400, 300))[:300], settings, "b2")
    with session_scope() as session:
        ids = [
            image_row(session, good),
            image_row(session, truncated),
            image_row(session, "local:ff/" + "f" * 64 + ".png"),
        ]
    classifier = StandIn()
    summary = categorize(image_ids=ids, classifier=classifier, settings=settings, session_factory=session_scope)
    assert classifier.batches == [2]
    assert summary.categorized == [ids[0]] and summary.failed == {ids[1]: "truncated", ids[2]: "not_found"}
    with session_scope() as session:
        rows = [session.get(Image, i) for i in ids]
        assert [(r.status, r.style, r.error_code) for r in rows if r] == [
            ("categorized", "flat", None),
            ("failed", None, "truncated"),
            ("failed", None, "not_found"),
        ]

    again = categorize(image_ids=ids, classifier=classifier, settings=settings, session_factory=session_scope)
    assert again.skipped == 1 and classifier.batches == [2, 1]  # the categorized one is not run again


@pytest.fixture
def unavailable() -> Iterator[str]:
    with http_source(Unavailable, "/busy.png") as url:
        yield url


def test_a_source_briefly_away_does_not_hold_up_its_batch_and_has_a_budget_of_its_own(
    clean_tables: None, settings: Settings, unavailable: str
) -> None:
    with session_scope() as session:
        good = [image_row(session, _stored(plain_png(), settings, "c3")) for _ in range(2)]
        away = image_row(session, unavailable)  # registered when private URLs were allowed
    budget = settings.model_copy(update={"allow_private_urls": True, "max_transient_failures": 3})

    def run(ids: list[int]) -> Summary:
        return categorize(image_ids=ids, classifier=StandIn(), settings=budget, session_factory=session_scope)

    def state() -> tuple[str, int, int]:
        with session_scope() as session:
            row = session.get(Image, away)
            assert row is not None
            return row.status, row.attempts, row.transient_failures

    first = run([*good, away])
    assert first.categorized == good and first.deferred == [away] and first.failed == {}
    assert state() == ("queued", 0, 1)  # not counted as an attempt: attempts cap crashes and poison
    assert run([away]).deferred == [away] and state() == ("queued", 0, 2)

    last = run([away])
    assert last.deferred == [] and last.failed == {away: "source_unavailable"}
    with session_scope() as session:
        row = session.get(Image, away)
        assert row is not None and (row.status, row.error_code) == ("failed", "source_unavailable")
        assert row.error_message is not None and "3 times" in row.error_message and "503" in row.error_message


class _Slow(BaseHTTPRequestHandler):
    """Each image answers after 0.3 s, as a store across a network would."""

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(0.3)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_batch_fetches_its_images_at_once_and_keeps_their_order(settings: Settings) -> None:
    """Before: one after another, 8 x 0.3 s here; 64 round trips per batch from S3."""
    with http_source(_Slow, "/") as base:
        claimed = [(i, f"{base}image-{i}") for i in range(8)]
        allowing = settings.model_copy(update={"allow_private_urls": True, "fetch_concurrency": 8})
        started = time.monotonic()
        fetched, errors, unavailable = _fetch_all(claimed, allowing)
        took = time.monotonic() - started
    assert (errors, unavailable) == ({}, {})
    assert fetched == [(i, f"/image-{i}".encode()) for i in range(8)]
    assert took < 1.2, f"8 fetches of 0.3 s took {took:.1f} s"


def test_a_process_fetches_its_later_batches_on_the_same_threads(settings: Settings) -> None:
    """Before: each batch started its own fetch threads, a sixth of what fetching from S3 cost."""

    def fetch_threads() -> set[int | None]:
        return {thread.ident for thread in threading.enumerate() if thread.name.startswith("fetch-")}

    _fetchers.cache_clear()  # a pool of this process's own, not one another test started
    before = fetch_threads()
    with http_source(_Slow, "/") as base:
        claimed = [(i, f"{base}image-{i}") for i in range(8)]
        allowing = settings.model_copy(update={"allow_private_urls": True, "fetch_concurrency": 8})
        assert len(_fetch_all(claimed, allowing)[0]) == 8
        first = fetch_threads() - before
        assert len(_fetch_all(claimed, allowing)[0]) == 8
    assert 0 < len(first) <= 8 and fetch_threads() - before == first


def test_a_batch_cut_off_by_its_time_limit_leaves_its_busy_fetch_threads_behind(settings: Settings) -> None:
    """Celery raises a soft time limit in the waiting thread: the next batch must not queue behind
    fetches that are still running, so it gets threads of its own."""

    class Cut(Exception):
        pass

    def cut(*_: object) -> None:
        raise Cut

    previous = signal.signal(signal.SIGALRM, cut)
    try:
        with http_source(_Slow, "/") as base:
            claimed = [(i, f"{base}image-{i}") for i in range(8)]
            allowing = settings.model_copy(update={"allow_private_urls": True, "fetch_concurrency": 4})
            assert len(_fetch_all(claimed[:2], allowing)[0]) == 2
            busy = _fetchers(4, os.getpid())
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with pytest.raises(Cut):
                _fetch_all(claimed, allowing)
            started = time.monotonic()
            assert len(_fetch_all(claimed[:4], allowing)[0]) == 4
            took = time.monotonic() - started
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert _fetchers(4, os.getpid()) is not busy and took < 0.5, f"the next batch waited {took:.2f} s"
