"""Container entrypoint. SageMaker starts the container as `<entrypoint> serve`: that execs the
model server on port 8080 (`PORT` overrides) as PID 1, so SIGTERM reaches it directly. Any other
arguments are exec'd as a command (`docker run IMAGE stylecat model list`)."""

import os
import sys

from core.settings import get_settings


def server_command(port: int) -> list[str]:
    # one process: the model is loaded once; batches run in its thread pool
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "inference.server:app",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        "20",
        "--no-access-log",
    ]


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"] and len(argv) == 1:
        command = server_command(get_settings().inference_port)
    elif argv:
        command = argv
    else:
        raise SystemExit("usage: entrypoint.py serve | COMMAND [ARGS...]")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
