"""PostgreSQL from the machine's packages, in a cluster of its own under the stack folder."""

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from stylecat.stack.base import Service, StackError, port_open, run, wait_until


def _bin(name: str) -> str:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise StackError(f"{name} not found: install PostgreSQL (`apt-get install postgresql`)")
    return found


class Postgres(Service):
    name = "postgres"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.url = make_url(self.settings.database_url)
        self.host = self.url.host or "127.0.0.1"
        self.port = self.url.port or 5432
        self.cluster = self._cluster_dir()
        self.data = self.cluster / "data"
        self.sockets = self.cluster / "run"
        self.log = self.cluster / "postgres.log"

    def _cluster_dir(self) -> Path:
        """The server refuses to run as root, so as root it runs as `postgres`, which must reach the
        folder; if it can't (a checkout under /root), the cluster goes to a folder of its own in /tmp."""
        if os.geteuid() != 0 or self._postgres_can_enter(self.home.parent):
            return self.home
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"stylecat-postgres-{digest}"

    @staticmethod
    def _postgres_can_enter(path: Path) -> bool:
        path.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False)
        return probe.returncode == 0

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def reachable(self) -> bool:
        return port_open(self.host, self.port)

    def _start(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.cluster, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            run(
                self._as_server_user(
                    [
                        _bin("initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        "postgres",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ]
                )
            )
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses={self.host}"
        run(
            self._as_server_user(
                [_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"]
            )
        )
        wait_until(self.reachable, "PostgreSQL", 30, self.log)

    def _stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return  # already stopped (by hand, or by a crash)
        run(self._as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]))

    def prepare(self) -> None:
        """Create the configured role and database, if missing. The role may create databases and
        roles: the tests make throw-away ones (a compose run needs a role with a real password)."""
        if not self.started_by_stack:
            return
        user, password, database = str(self.url.username), self.url.password, str(self.url.database)
        with psycopg.connect(
            host=str(self.sockets), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                        sql.Identifier(user), sql.Literal(password)
                    )
                )
            conn.execute(sql.SQL("ALTER ROLE {} CREATEDB CREATEROLE").format(sql.Identifier(user)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user))
                )

    def describe(self) -> str:
        try:
            with psycopg.connect(
                self.url.set(drivername="postgresql").render_as_string(hide_password=False), connect_timeout=3
            ) as conn:
                return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        except psycopg.Error as exc:
            return f"reachable, but login failed: {str(exc).strip().splitlines()[0]}"
