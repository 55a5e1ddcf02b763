"""Real stylecat processes (API, workers) for end-to-end tests, stopped at teardown."""

import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import httpx

from core.waiting import wait_for

__all__ = [
    "STYLECAT",
    "Process",
    "Unavailable",
    "api_answers",
    "chunked_post",
    "free_port",
    "http_source",
    "mlflow_server",
    "responds",
    "serving",
    "wait_for",
]

STYLECAT = [sys.executable, "-m", "stylecat"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        *,
        command: list[str] = STYLECAT,
        inherit_env: bool = True,
        cwd: Path | None = None,
    ) -> None:
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(
            [*command, *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            cwd=cwd,
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


@contextmanager
def serving(
    args: list[str], log: Path, ready: Callable[[str], bool], env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run `stylecat <args> --port <free port>` until the block ends; yield its base URL once
    `ready(base)` holds."""
    port = free_port()
    process = Process([*args, "--port", str(port)], log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(base), 60, f"{args[0]}\n{process.tail()}")
        yield base
    finally:
        process.stop()


@contextmanager
def mlflow_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real MLflow tracking server (sqlite store, artifacts served) on loopback: (URL, process)."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(folder / "artifacts"), "--workers", "1"]
    with (folder / "mlflow.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: responds(f"{url}/health"), 90, "the MLflow server")
        yield url, server
    finally:
        server.terminate()
        server.wait(20)


class Unavailable(BaseHTTPRequestHandler):
    """An image source that always answers 503."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_source(handler: type[BaseHTTPRequestHandler], path: str) -> Iterator[str]:
    """A throw-away HTTP server on loopback, in a thread, serving `handler`; yields the URL of `path`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{path}"
    finally:
        server.shutdown()
        server.server_close()


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


def chunked_post(
    url: str, headers: dict[str, str], total: int, first: bytes = b"", chunk: int = 256 * 1024
) -> tuple[int, bytes, int]:
    """POST `first` then zeros up to `total` bytes with chunked framing (no Content-Length), one
    chunk at a time, and stop sending as soon as the server answers. Returns (status, body, bytes
    sent before the answer)."""
    host, _, port = url.removeprefix("http://").split("/")[0].partition(":")
    path = "/" + url.removeprefix("http://").partition("/")[2]
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total and not select.select([sock], [], [], 0.01)[0]:
                payload = first if sent == 0 and first else b"\0" * chunk
                sock.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                sent += len(payload)
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while a chunk was on its way
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2], sent


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
