"""The write paths: claims, predictions, failures and reviews, against the real PostgreSQL."""

from sqlalchemy import func, select, text

from core.waiting import wait_for
from db.models import Image, StylePrediction, StyleReview
from db.session import get_engine, session_scope
from db.writes import ModelRef, Prediction, add_review, claim, mark_failed, record_predictions
from tests.factories import PROBS, image_row


def _waiting_on_a_lock() -> bool:
    """Another backend of this database waits on a lock (PostgreSQL's own view of it, read on a
    connection of its own: inside one transaction the statistics view does not change)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    with get_engine().connect() as connection:
        return bool(connection.execute(text(query)).scalar())


V1 = ModelRef(name="style-cnn", version="1", backend="local")
V2 = ModelRef(name="style-cnn", version="2", backend="local")


def _predict(image_id: int, style: str, model: ModelRef) -> None:
    with session_scope() as session:
        assert [row.id for row in claim(session=session, image_ids=[image_id], model=model, max_attempts=5)] == [
            image_id
        ]
    with session_scope() as session:
        record_predictions(session=session, predictions=[Prediction(image_id, style, PROBS[style])], model=model)


def _image(image_id: int) -> Image:
    with session_scope() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image


def test_a_prediction_becomes_the_style_and_bumps_the_outbox(clean_tables: None) -> None:
    with session_scope() as session:
        image_id = image_row(session)
    _predict(image_id, "flat", V1)
    image = _image(image_id)
    assert (image.status, image.style, image.style_source, image.model_version) == ("categorized", "flat", "model", "1")
    assert image.style_probs == PROBS["flat"] and image.confidence == 0.94 and image.attempts == 0
    assert image.index_version == 2 and image.predicted_at is not None


def test_the_same_model_version_twice_changes_nothing(clean_tables: None) -> None:
    with session_scope() as session:
        image_id = image_row(session)
    _predict(image_id, "flat", V1)
    before = _image(image_id)
    with session_scope() as session:
        assert claim(session=session, image_ids=[image_id], model=V1, max_attempts=5) == []
        record_predictions(session=session, predictions=[Prediction(image_id, "flat", PROBS["flat"])], model=V1)
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(StylePrediction)) == 1
    after = _image(image_id)
    assert (after.status, after.style, after.attempts) == (before.status, before.style, before.attempts)


def test_a_review_is_never_overwritten_but_later_runs_are_recorded(clean_tables: None) -> None:
    with session_scope() as session:
        image_id = image_row(session)
    _predict(image_id, "flat", V1)
    with session_scope() as session:
        reviewed = add_review(session=session, image_id=image_id, style="hand_drawn", reviewer="ana")
        assert reviewed is not None
    _predict(image_id, "3d", V2)
    image = _image(image_id)
    assert (image.style, image.style_source, image.model_version) == ("hand_drawn", "review", "2")
    with session_scope() as session:
        history = session.execute(
            select(StylePrediction.model_version, StylePrediction.style).order_by(StylePrediction.id)
        ).all()
        assert history == [("1", "flat"), ("2", "3d")]
        assert session.scalar(select(StyleReview.reviewer)) == "ana"


def test_attempts_are_capped(clean_tables: None) -> None:
    with session_scope() as session:
        image_id = image_row(session)
    for _ in range(2):
        with session_scope() as session:
            assert len(claim(session=session, image_ids=[image_id], model=V1, max_attempts=2)) == 1
    with session_scope() as session:
        assert claim(session=session, image_ids=[image_id], model=V1, max_attempts=2) == []
    image = _image(image_id)
    assert (image.status, image.error_code) == ("failed", "too_many_attempts")


def test_mark_failed_records_code_and_message(clean_tables: None) -> None:
    with session_scope() as session:
        image_id = image_row(session)
        mark_failed(session=session, image_id=image_id, code="truncated", message="cannot decode image data")
    image = _image(image_id)
    assert (image.status, image.error_code, image.error_message) == ("failed", "truncated", "cannot decode image data")
    assert image.index_version == 2


def test_review_of_an_unknown_image_is_none(clean_tables: None) -> None:
    with session_scope() as session:
        assert add_review(session=session, image_id=999_999, style="flat", reviewer="ana") is None


def test_claim_waits_for_a_row_the_indexer_holds_instead_of_skipping_it(clean_tables: None) -> None:
    import threading

    from sqlalchemy import select as sa_select

    with session_scope() as session:
        image_id = image_row(session)
    claimed: list[int] = []
    with session_scope() as indexer:  # the indexer locks its batch while the bulk request runs
        indexer.execute(sa_select(Image.id).where(Image.id == image_id).with_for_update())

        def run_claim() -> None:
            with session_scope() as session:
                claimed.extend(row.id for row in claim(session=session, image_ids=[image_id], model=V1, max_attempts=5))

        worker = threading.Thread(target=run_claim)
        worker.start()
        wait_for(_waiting_on_a_lock, 10, "the claim to wait on the indexer's row lock", 0.05)
        assert claimed == []
    worker.join(10)
    assert claimed == [image_id]


def test_reviews_export_as_a_labelled_folder_the_trainer_reads(clean_tables: None, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    from images.storage import store
    from model.dataset import folder_files
    from producer.reviews import export
    from tests.factories import plain_png

    ref = store(plain_png(), sha256="d" * 64, extension="png", content_type="image/png", settings=settings)
    with session_scope() as session:
        kept, lost, unreviewed = (
            image_row(session, ref),
            image_row(session, "local:ee/" + "e" * 64 + ".png"),
            image_row(session, ref),
        )
        session.execute(Image.__table__.update().where(Image.id == kept).values(content_type="image/png"))
        add_review(session=session, image_id=kept, style="flat", reviewer="ana")
        add_review(session=session, image_id=kept, style="line_art", reviewer="bo")  # the newest wins
        add_review(session=session, image_id=lost, style="3d", reviewer="ana")
    with session_scope() as session:
        written, missing = export(session=session, folder=tmp_path, settings=settings)
    assert written == [kept] and len(missing) == 1 and f"image {lost}: not_found" in missing[0]
    assert [(path.relative_to(tmp_path).as_posix(), label) for path, label in folder_files(tmp_path)] == [
        (f"line_art/reviews--{kept}.png", 3)  # source `reviews`, for the trainer's weights and folds
    ]
    assert f"reviews--{unreviewed}.png" not in {p.name for p in tmp_path.rglob("*.png")}
