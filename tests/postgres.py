"""A throwaway PostgreSQL server on loopback, in a temp folder (the machine's initdb and pg_ctl,
PostgreSQL 15 here): for the tests marked `postgres`. It runs as the `postgres` user when the tests
run as root (PostgreSQL refuses root), and is stopped and deleted at the end of the session."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

USER = "ccrisk"  # the cluster's superuser; trust authentication, loopback only


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: on the PATH, else in Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(folder) / name, os.X_OK):
            return str(Path(folder) / name)
    return None


@dataclass
class Postgres:
    folder: Path
    port: int
    as_user: list[str]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        subprocess.run([*self.as_user, pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _server_user() -> str:
    """Who runs the server when the tests run as root: Debian's `postgres` user, else `nobody`."""
    try:
        pwd.getpwnam("postgres")
        return "postgres"
    except KeyError:
        return "nobody"


def start_postgres() -> Postgres:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) are absent: apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="ccrisk-pg-"))  # not under pytest's root-only folder
    owner = _server_user() if os.geteuid() == 0 else None
    as_user = ["runuser", "-u", owner, "--"] if owner else []
    if owner:
        shutil.chown(folder, owner)
    data, port = folder / "data", free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    for cmd in (
        [initdb, "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        [pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60", "-o", options, "start"],
    ):
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stdout}{proc.stderr}{log[-2000:]}")
    return Postgres(folder, port, as_user)
