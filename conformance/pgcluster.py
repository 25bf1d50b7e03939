"""A throw-away PostgreSQL cluster from the system's binaries, for tests and benchmarks.

``PostgresCluster`` runs Debian's ``initdb`` and ``pg_ctl`` (``/usr/lib/postgresql/<version>/bin``)
on a temporary directory: the server listens on a Unix socket in that directory only (a random
port number keeps socket names apart), with durability settings untouched, so a committed
transaction survives ``kill -9`` of any client. PostgreSQL refuses to run as root: as root the
binaries run as the ``postgres`` system user (``runuser``), who owns the directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from urllib.parse import quote


class PostgresUnavailable(RuntimeError):
    pass


def server_binaries() -> str | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, or None."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.access(os.path.join(d, "initdb"), os.X_OK)]
    return max(found, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    def __init__(self, bin_dir: str | None = None):
        self.bin_dir = bin_dir or server_binaries()
        if self.bin_dir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
            )
        self.dir = tempfile.mkdtemp(prefix="sfmc-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.user = "postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the postgres system user
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root needs the 'postgres' system user") from None
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> PostgresCluster:
        self._run(
            os.path.join(self.bin_dir, "initdb"), "-D", self.data, "-U", self.user, "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync",
        )  # fmt: skip
        options = f"-k {self.dir} -p {self.port} -c listen_addresses='' -c max_connections=200 -c fsync=on"
        self._run(
            os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={quote(self.dir, safe='')}&port={self.port}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self, prefix: str = "s") -> str:
        """A new empty schema in the ``postgres`` database (much cheaper than a database): a URL
        whose connections see only it (``search_path``)."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return self.url() + "&options=" + quote(f"-c search_path={name}", safe="")

    def stop(self) -> None:
        if self.started:
            self.started = False
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
