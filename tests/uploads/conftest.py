"""Uploads tests: the loopback-only connect guard, and a real S3-compatible server (moto's, over HTTP on
127.0.0.1, as its own process) for the S3 storage."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiobotocore.session import ClientCreatorContext, get_session
from types_aiobotocore_s3 import S3Client

from tests.media.loopback import connect_attempts, one_tls_context, server

__all__ = ["S3Server", "connect_attempts", "one_tls_context", "s3_bucket", "s3_server", "server"]

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server, started for the session on a free loopback port (a real HTTP server, not a mock)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start; see {log}")
            time.sleep(0.1)
        yield S3Server(endpoint, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_client(server: S3Server) -> ClientCreatorContext[S3Client]:
    """A client of the test's S3 server, as a test reads or prepares the bucket (not through the service)."""
    return get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest_asyncio.fixture
async def s3_bucket(s3_server: S3Server) -> AsyncIterator[str]:
    """A fresh bucket for one test."""
    name = f"uploads-{time.monotonic_ns()}"
    async with s3_client(s3_server) as s3:
        await s3.create_bucket(Bucket=name)
        yield name
