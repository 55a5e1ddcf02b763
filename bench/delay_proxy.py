"""A TCP proxy on loopback that holds what each client sends for a while before passing it on:
every request then waits that long for its answer, as from a store across a network (opening a
connection is not delayed, and there is no TLS). It runs in a process of its own, so that its work
is not charged to the process being measured.

    .venv/bin/python -m bench.delay_proxy --upstream http://127.0.0.1:9000 --delay-ms 20

Prints its address (`http://127.0.0.1:<port>`) on the first line once it listens.
"""

import argparse
import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
    try:
        while data := await reader.read(65536):
            if hold:
                await asyncio.sleep(hold)
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def _serve(host: str, port: int, delay: float) -> None:
    async def connected(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(_pump(client_reader, upstream_writer, delay), _pump(upstream_reader, client_writer, 0.0))

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def delaying_proxy(upstream: str, delay_ms: float) -> Iterator[tuple[str, int]]:
    """The proxy in a child process, for as long as the block runs; yields its address and pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.delay_proxy", "--upstream", upstream, "--delay-ms", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip(), process.pid
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="http://host:port")
    parser.add_argument("--delay-ms", type=float, default=20)
    args = parser.parse_args()
    host, port = args.upstream.removeprefix("http://").split(":")
    asyncio.run(_serve(host, int(port), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
