"""The service as a real uvicorn process on PostgreSQL, in sandbox mode, for the fuzzer and the contract tests.

Sandbox mode keeps Instagram in the process (no network); jobs run in-process. Publishing waits are short
so that a fuzzer's thousand requests stay within minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import JWT_SECRET, TOKEN_KEY
from tests.worker.stack import ROOT, free_port


@dataclass
class ServedApi:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def served_api(database_url: str, logs: Path, **settings: str) -> Iterator[ServedApi]:
    """Start `uvicorn app.main:app` on a free loopback port and wait until it answers /healthz."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env: dict[str, Any] = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "INSTAGRAM_"))},
        "APP_ENV": "development",
        "APP_VAR_DIR": str(logs / "var"),
        "DATABASE_URL": database_url,
        "DATABASE_AUTO_MIGRATE": "false",
        "JWT_SECRET": JWT_SECRET,
        "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
        "PUBLIC_BASE_URL": url,
        "LOG_LEVEL": os.environ.get("FUZZ_LOG_LEVEL", "WARNING"),
        "INSTAGRAM_TIMEOUT_SECONDS": "3",
        "INSTAGRAM_RETRY_BUDGET_SECONDS": "0.5",
        "INSTAGRAM_MAX_ATTEMPTS": "2",
        "PUBLISH_WAIT_SECONDS": "3",
        "REEL_WAIT_SECONDS": "3",
        "SANDBOX_VIDEO_PROCESSING_SECONDS": "0.2",
        "CONTAINER_POLL_INITIAL_SECONDS": "0.1",
        "CONTAINER_POLL_MAX_INTERVAL_SECONDS": "0.3",
        "PUBLISH_RECONCILE_GRACE_SECONDS": "0.2",
        **settings,
    }
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield ServedApi(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def connect_account_sync(api_url: str, headers: dict[str, str], username: str) -> dict[str, Any]:
    """Connect `username` through the sandbox's consent page, as a browser does."""
    with httpx.Client(base_url=api_url, timeout=10) as client:
        auth_url = client.get("/api/sns/instagram/oauth/authorize", headers=headers).json()["auth_url"]
        approved = client.post(auth_url, data={"username": username})
        assert approved.status_code == 302, approved.text
        callback = client.get(approved.headers["location"])
        assert callback.status_code == 200, callback.text
        account: dict[str, Any] = callback.json()["account"]
        return account
