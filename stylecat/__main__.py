"""`python -m stylecat` is the `stylecat` command."""

from stylecat.cli import app

app()
