"""Real stylecat processes (API, workers) for end-to-end tests, stopped at teardown."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx

from core.waiting import wait_for

__all__ = ["STYLECAT", "Process", "api_answers", "free_port", "responds", "wait_for"]

STYLECAT = [sys.executable, "-m", "stylecat"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(
            [*STYLECAT, *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._out.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def api_answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def responds(url: str) -> bool:
    """Whether anything answers HTTP at `url`, whatever the status."""
    try:
        httpx.get(url, timeout=2)
        return True
    except httpx.HTTPError:
        return False
