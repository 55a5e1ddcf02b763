"""Container entrypoint. SageMaker starts the container as `<entrypoint> serve`: this process (PID 1)
then runs the model server on port 8080 (`PORT` overrides) itself, so SIGTERM reaches uvicorn
directly and no second interpreter starts. Any other arguments are exec'd as a command
(`docker run IMAGE stylecat model list`)."""

import os
import sys

from core.settings import get_settings


def serve(port: int) -> None:
    import uvicorn

    # one process: the model is loaded once; batches run in its thread pool
    uvicorn.run("inference.server:app", host="0.0.0.0", port=port, timeout_graceful_shutdown=20, access_log=False)


def main(argv: list[str]) -> None:
    if argv == ["serve"]:
        serve(get_settings().inference_port)
    elif argv:
        os.execvp(argv[0], argv)
    else:
        raise SystemExit("usage: entrypoint.py serve | COMMAND [ARGS...]")


if __name__ == "__main__":
    main(sys.argv[1:])
