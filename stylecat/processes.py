"""Background processes tracked by pid files (the stack's OpenSearch and Redis, the demo's
services): start once, stop with SIGTERM to the whole process group, then SIGKILL."""

import os
import signal
import subprocess
import time
from pathlib import Path


def alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
        return True
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False


def start(
    args: list[str], pid_file: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes] | None:
    """Start `args` in a session of its own, output to `log`; None if `pid_file` names a live process."""
    if alive(pid_file):
        return None
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    return process


def stop(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the process group of `pid_file`'s process, wait for it to exit, SIGKILL it if it
    does not; returns whether a process was running."""
    if not pid_file.exists():
        return False
    was_alive = alive(pid_file)
    if was_alive:
        pid = int(pid_file.read_text().strip())
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.2)
        if _running(pid):
            _signal(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return was_alive


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the group: a launcher's children go too
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # reap it if it is our child, or it lingers as a zombie
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
