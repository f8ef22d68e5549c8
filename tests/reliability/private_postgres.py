"""A PostgreSQL cluster of the test's own, on a free loopback port, that the test may stop and restart.

The machine's shared PostgreSQL is never restarted (other test runs use it); this one lives in a temporary
directory, runs as the `postgres` user (PostgreSQL refuses to run as root) and is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrations import upgrade_to_head_async
from tests.worker.stack import free_port


def _bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40"
        self._run(
            "pg_ctl", "-D", str(self.datadir / "data"), "-o", options, "-w", "-l", str(self.datadir / "log"), "start"
        )

    def restart(self) -> None:
        """Stop (fast: open sessions are terminated) and start again, as an operator's restart does."""
        self._run("pg_ctl", "-D", str(self.datadir / "data"), "-m", "fast", "-w", "stop")
        self.start()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir / "data"), "-m", "immediate", "-w", "stop")

    async def migrated_database(self, name: str = "app") -> str:
        """A new database on the cluster, at the latest schema; its URL."""
        admin = create_async_engine(self.url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        url = self.url.rsplit("/", 1)[0] + f"/{name}"
        await upgrade_to_head_async(url)
        return url


def available() -> bool:
    return _bindir() is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    assert bindir is not None, "PostgreSQL's server binaries are not installed"
    root = Path(tempfile.mkdtemp(prefix="pg-restart-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bindir, root, free_port())
    try:
        cluster._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
