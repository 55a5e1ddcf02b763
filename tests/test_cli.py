"""CLI behaviour that guards production: refusals come with a clear message and a non-zero exit."""

import pytest
from typer.testing import CliRunner

from stylecat.cli import app

pytestmark = pytest.mark.unit

runner = CliRunner()


def test_flower_refuses_to_start_without_credentials() -> None:
    result = runner.invoke(app, ["flower"])
    assert result.exit_code == 1
    assert "STYLECAT_FLOWER_PASSWORD" in result.output


def test_flower_local_escape_hatch_is_loopback_only() -> None:
    result = runner.invoke(app, ["flower", "--local", "--address", "0.0.0.0"])
    assert result.exit_code == 1 and "STYLECAT_FLOWER_USER" in result.output


def test_worker_rejects_an_unknown_queue() -> None:
    result = runner.invoke(app, ["worker", "--queues", "categorize.live,urgent"])
    assert result.exit_code == 1 and "urgent" in result.output


def test_demo_samples_are_images_of_every_style(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from model.preprocess import probe
    from stylecat.demo import write_samples

    paths = write_samples(tmp_path, 8)
    assert sorted({p.name.rsplit("-", 1)[0] for p in paths}) == ["3d", "flat", "hand_drawn", "line_art"]
    for path in paths:
        image_format, _, _ = probe(path.read_bytes())
        assert path.suffix == {"JPEG": ".jpg", "PNG": ".png"}[image_format]
