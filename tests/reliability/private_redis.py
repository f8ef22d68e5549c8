"""A Redis server of the test's own, on a free loopback port, that the test may stop and start again.

The machine's shared Redis is never stopped (other test runs use it). This one keeps nothing on disk, so a
restart comes back empty, as a Redis without persistence (or a replaced container) does: every queued and
deferred job is gone, and only the database knows what is left to do.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from tests.worker.stack import free_port


def available() -> bool:
    return shutil.which("redis-server") is not None


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (empty) and wait until it answers PING."""
        assert self.process is None, "already running"
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        client = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (OSError, RedisError):  # refused while the port opens
                    pass
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start: see " + str(self.directory / "redis.log"))
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Kill it: open connections reset, new ones refused, everything it held lost."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    directory = Path(tempfile.mkdtemp(prefix="redis-outage-"))
    server = RedisServer(directory)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
