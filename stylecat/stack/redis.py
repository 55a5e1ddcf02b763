"""Redis from the machine's packages: loopback only, append-only file, never evicts a queued job."""

import shutil
from urllib.parse import urlsplit

import redis

from stylecat import processes
from stylecat.stack.base import Service, StackError, run, wait_until


class Redis(Service):
    name = "redis"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        parts = urlsplit(self.settings.redis_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.password = parts.password
        self.pid_file = self.home / "redis.pid"
        self.log = self.home / "redis.log"

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, socket_connect_timeout=1, socket_timeout=2)

    def reachable(self) -> bool:
        try:
            return bool(self._client().ping())
        except redis.RedisError:
            return False

    def _start(self) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise StackError("redis-server not found: install Redis (`apt-get install redis-server`)")
        cmd = [
            server,
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.home),
            "--daemonize",
            "yes",
            "--pidfile",
            str(self.pid_file),
            "--logfile",
            str(self.log),
            "--appendonly",
            "yes",
            "--maxmemory-policy",
            "noeviction",
        ]
        if self.password:
            cmd += ["--requirepass", self.password]
        run(cmd)
        wait_until(self.reachable, "Redis", 15, self.log)

    def _stop(self) -> None:
        processes.stop(self.pid_file)

    def describe(self) -> str:
        try:
            return str(self._client().info("server")["redis_version"])
        except redis.RedisError as exc:
            return f"unreachable: {exc}"
