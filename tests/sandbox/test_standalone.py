"""`python -m app.sandbox --port N`: the sandbox served alone, and its refusal to run in production."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from app.sandbox import create_sandbox_app

from .helpers import make_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _environment(app_env: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INSTAGRAM_", "SANDBOX_", "PUBLIC_BASE_URL"))}
    env.update(
        APP_ENV=app_env,
        JWT_SECRET="s" * 40,
        TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PYTHONUNBUFFERED="1",
    )
    return env


async def test_serves_alone() -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.sandbox",
        "--port",
        str(port),
        "--log-level",
        "warning",
        cwd=PROJECT_ROOT,
        env=_environment("development"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get("/sandbox/")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.returncode is not None:
                    stderr = await process.stderr.read() if process.stderr else b""
                    raise AssertionError(f"the stand-alone sandbox exited: {stderr.decode()}")
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the stand-alone sandbox never answered")
            created = (await http.post("/sandbox/control/users", json={"username": "alone"})).json()
            answer = await http.get(
                "/sandbox/graph/v25.0/me",
                params={"fields": "user_id,username,profile_picture_url", "access_token": created["access_token"]},
            )
            assert answer.status_code == 200
            body = answer.json()
            assert body["username"] == "alone"
            assert body["profile_picture_url"] == f"{base}/sandbox/cdn/{body['user_id']}/profile.jpg"
            picture = await http.get(body["profile_picture_url"])
            assert picture.headers["content-type"] == "image/jpeg"
            assert "x-app-usage" in answer.headers
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:  # pragma: no cover - a stuck server
            process.kill()
            await process.wait()


def test_refuses_production() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.sandbox", "--port", str(_free_port())],
        cwd=PROJECT_ROOT,
        env=_environment("production"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "APP_ENV=production" in result.stderr


def test_create_sandbox_app_refuses_production() -> None:
    with pytest.raises(RuntimeError, match="APP_ENV=production"):
        create_sandbox_app(make_settings(app_env="production"))
