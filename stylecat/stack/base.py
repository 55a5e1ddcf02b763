"""What every service of the local stack shares: a folder, a marker of who started it, waiting."""

import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from core.settings import Settings
from core.waiting import wait_for


class StackError(RuntimeError):
    """A service could not be installed, started or stopped; the message says what to do."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float, log: Path | None = None) -> None:
    try:
        wait_for(check, timeout, f"{what} answering", interval=0.3, hint=f"; see {log}" if log else "")
    except TimeoutError as exc:
        raise StackError(str(exc)) from None


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a setup command; on failure raise a StackError that carries its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise StackError(f"`{' '.join(cmd)}` failed ({result.returncode}):\n{result.stderr or result.stdout}")
    return result


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

    def prepare(self) -> None:  # noqa: B027  (a hook: most services need no set-up)
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
