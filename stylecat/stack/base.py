"""What every service of the local stack shares: a folder, a marker of who started it, waiting."""

import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from stylecat.settings import Settings


class StackError(RuntimeError):
    """A service could not be installed, started or stopped; the message says what to do."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    hint = f"; see {log}" if log else ""
    raise StackError(f"{what} did not answer within {timeout:.0f} s{hint}")


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a setup command; on failure raise a StackError that carries its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise StackError(f"`{' '.join(cmd)}` failed ({result.returncode}):\n{result.stderr or result.stdout}")
    return result


def stop_pid(pid_file: Path, timeout: float = 30.0) -> None:
    """SIGTERM the process in `pid_file`, wait for it to exit, SIGKILL it if it does not."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)


class Service(ABC):
    """A server of the local stack. `up` starts it only if nothing answers at the configured URL."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_dir / self.name
        self.marker = self.home / "started-by-stack"

    @abstractmethod
    def reachable(self) -> bool: ...

    @abstractmethod
    def _start(self) -> None:
        """Start the server in the background and wait until it answers."""

    @abstractmethod
    def _stop(self) -> None: ...

    def prepare(self) -> None:
        """Finish set-up once the server answers (roles, databases); idempotent."""

    def describe(self) -> str:
        """One line for `stack status`: version or URL."""
        return ""

    @property
    def started_by_stack(self) -> bool:
        return self.marker.exists()

    def up(self) -> str:
        if self.reachable():
            state = "already running" + ("" if self.started_by_stack else " (not started by the stack)")
        else:
            self.home.mkdir(parents=True, exist_ok=True)
            self._start()
            self.marker.touch()
            state = "started"
        self.prepare()
        return state

    def down(self) -> str:
        if not self.started_by_stack:
            return "left alone (not started by the stack)" if self.reachable() else "not running"
        self._stop()
        self.marker.unlink(missing_ok=True)
        return "stopped"
