"""CLI behaviour that guards production: refusals come with a clear message and a non-zero exit."""

from typer.testing import CliRunner

from stylecat.cli import app

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
