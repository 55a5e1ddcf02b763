"""The schema: Alembic upgrades and downgrades cleanly, agrees with the models, and its constraints bite."""

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Image, StylePrediction
from db.session import engine_for
from migrations import commands as migrate

TABLES = {"images", "style_predictions", "style_reviews", "api_keys", "canary_halts"}


def _tables(url: str) -> set[str]:
    return set(sa.inspect(engine_for(url)).get_table_names()) - {"alembic_version"}


def test_upgrade_then_downgrade_to_base_on_an_empty_database(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()

    migrate.upgrade(database_url=empty_database_url)
    assert _tables(empty_database_url) == TABLES
    migrate.check(database_url=empty_database_url)  # raises on any drift between models and migrations

    migrate.downgrade("base", database_url=empty_database_url)
    assert _tables(empty_database_url) == set()

    migrate.upgrade(database_url=empty_database_url)  # and back up again
    assert _tables(empty_database_url) == TABLES


def test_check_constraints_are_named_as_the_models_name_them(empty_database_url: str) -> None:
    from db.models import Base

    migrate.upgrade(database_url=empty_database_url)
    inspector = sa.inspect(engine_for(empty_database_url))
    for table in TABLES:
        migrated = {c["name"] for c in inspector.get_check_constraints(table)}
        modelled = {c.name for c in Base.metadata.tables[table].constraints if isinstance(c, sa.CheckConstraint)}
        assert migrated == modelled, table


def test_indexes_for_the_worker_and_the_indexer_exist(database_url: str) -> None:
    indexes = {ix["name"] for ix in sa.inspect(engine_for(database_url)).get_indexes("images")}
    assert {"ix_images_status_updated_at", "ix_images_unindexed", "ix_images_sha256"} <= indexes


def test_status_check_constraint_rejects_an_unknown_status(database_url: str) -> None:
    with Session(engine_for(database_url)) as session:
        session.add(Image(storage_ref="local:x.png", status="lost"))
        with pytest.raises(IntegrityError, match="ck_images_status"):
            session.commit()


def test_style_check_constraint_rejects_an_unknown_style(database_url: str) -> None:
    with Session(engine_for(database_url)) as session:
        session.add(Image(storage_ref="local:x.png", style="watercolour"))
        with pytest.raises(IntegrityError, match="ck_images_style"):
            session.commit()


def test_probabilities_round_trip_through_jsonb(database_url: str) -> None:
    probs = {"3d": 0.002, "flat": 0.023, "hand_drawn": 0.974, "line_art": 0.001}
    with Session(engine_for(database_url)) as session:
        image = Image(storage_ref="local:a.png", style="hand_drawn", style_probs=probs)
        session.add(image)
        session.flush()
        session.add(
            StylePrediction(
                image_id=image.id,
                model_name="style-cnn",
                model_version="1",
                backend="local",
                style="hand_drawn",
                probs=probs,
                confidence=0.974,
            )
        )
        session.commit()
        image_id = image.id

    with Session(engine_for(database_url)) as session:
        stored = session.get(Image, image_id)
        assert stored is not None and stored.style_probs == probs
        assert stored.status == "queued" and stored.index_version == 1 and stored.indexed_version == 0
        # JSONB is queryable, not an opaque string
        top = session.scalar(sa.select(Image.style_probs["hand_drawn"].as_float()).where(Image.id == image_id))
        assert top == pytest.approx(0.974)
        history = session.scalars(sa.select(StylePrediction.probs).where(StylePrediction.image_id == image_id))
        assert list(history) == [probs]


def test_a_migration_that_cannot_get_its_lock_fails_fast(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `db upgrade` waited for the lock as long as the other transaction lasted, and every
    query on the table queued behind it. Now it gives up after STYLECAT_MIGRATION_LOCK_TIMEOUT."""
    from core.settings import get_settings

    migrate.upgrade("0004", database_url=empty_database_url)
    monkeypatch.setenv("STYLECAT_MIGRATION_LOCK_TIMEOUT", "1")
    get_settings.cache_clear()
    engine = sa.create_engine(empty_database_url)
    blocker = engine.connect()
    try:
        blocker.execute(sa.text("LOCK TABLE images IN ACCESS SHARE MODE"))  # a long read, say
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            migrate.upgrade(database_url=empty_database_url)  # 0005 alters images
        assert time.monotonic() - started < 10
    finally:
        blocker.rollback()
        blocker.close()
        engine.dispose()
        monkeypatch.undo()
        get_settings.cache_clear()
    migrate.upgrade(database_url=empty_database_url)  # once the table is free it goes through
    assert _tables(empty_database_url) == TABLES


def test_champion_predictions_become_served_and_back(empty_database_url: str) -> None:
    migrate.upgrade("0006", database_url=empty_database_url)
    engine = engine_for(empty_database_url)
    with engine.begin() as conn:
        image_id = conn.execute(
            sa.text("INSERT INTO images (storage_ref) VALUES ('local:a.png') RETURNING id")
        ).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO style_predictions (image_id, model_name, model_version, backend, style, probs, confidence)"
                " VALUES (:i, 'style-cnn', '2', 'local', 'flat', '{\"flat\": 1.0}', 1.0)"
            ),
            {"i": image_id},
        )
    role = "SELECT role FROM style_predictions"
    with engine.connect() as conn:
        assert conn.execute(sa.text(role)).scalar() == "champion"
    migrate.upgrade(database_url=empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text(role)).scalar() == "served"
        with pytest.raises(IntegrityError, match="ck_style_predictions_role"):
            conn.execute(sa.text("UPDATE style_predictions SET role = 'champion'"))
    migrate.downgrade("0006", database_url=empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text(role)).scalar() == "champion"
