"""`python -m app serve`: how many API processes for which settings, and the command run for real."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.config import ConfigurationError, Settings
from app.serving import available_cores, plan
from tests.conftest import JWT_SECRET, REDIS_TEST_URL, TOKEN_KEY
from tests.worker.stack import ROOT, free_port

LIVE = {"instagram_mode": "live", "instagram_app_id": "1000000000000042", "instagram_app_secret": "serve-secret"}


def settings(**values: object) -> Settings:
    return Settings(jwt_secret=JWT_SECRET, token_encryption_key=TOKEN_KEY, **values)  # type: ignore[arg-type]


def test_unset_it_is_one_process_per_core_when_redis_shares_the_jobs() -> None:
    assert plan(settings(redis_url=REDIS_TEST_URL, **LIVE)).workers == available_cores()


def test_unset_without_redis_it_is_one_process() -> None:
    assert plan(settings(**LIVE)).workers == 1


def test_unset_in_sandbox_mode_it_is_one_process() -> None:
    # The built-in emulator's state lives in the process: one process, one emulator.
    assert plan(settings(redis_url=REDIS_TEST_URL, instagram_mode="sandbox")).workers == 1


def test_a_set_value_is_taken_with_redis() -> None:
    chosen = plan(settings(redis_url=REDIS_TEST_URL, web_concurrency=3, host="127.0.0.2", port=8123, **LIVE))
    assert (chosen.workers, chosen.host, chosen.port) == (3, "127.0.0.2", 8123)


def test_more_than_one_process_without_redis_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY=2 needs REDIS_URL"):
        plan(settings(web_concurrency=2, **LIVE))


def test_more_than_one_process_with_the_built_in_sandbox_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="INSTAGRAM_MODE=sandbox"):
        plan(settings(redis_url=REDIS_TEST_URL, web_concurrency=2, instagram_mode="sandbox"))


def test_the_embedded_sqlite_mode_runs_on_asyncios_own_loop() -> None:
    # Its hot reads run in the loop's thread; under uvloop a few requests waited 200-450 ms (app/serving.py).
    sqlite = plan(settings(database_url="sqlite+aiosqlite:///var/x.db", **LIVE)).uvicorn_options()
    assert sqlite["loop"] == "asyncio"
    postgres = plan(settings(database_url="postgresql+asyncpg://u@localhost/db", **LIVE)).uvicorn_options()
    assert postgres["loop"] == ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")


def test_uvicorn_serves_without_websockets_and_without_its_own_logging() -> None:
    options = plan(settings(**LIVE)).uvicorn_options()
    assert options["ws"] == "none"
    assert options["access_log"] is False
    assert options["log_config"] is None
    assert options["proxy_headers"] is True


def test_available_cores_is_at_least_one() -> None:
    assert available_cores() >= 1


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "INSTAGRAM_", "WEB_"))}
    return {
        **base,
        "APP_ENV": "development",
        "APP_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "DATABASE_AUTO_MIGRATE": "false",
        "JWT_SECRET": JWT_SECRET,
        "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
        "INSTAGRAM_MODE": "live",
        "INSTAGRAM_APP_ID": LIVE["instagram_app_id"],
        "INSTAGRAM_APP_SECRET": LIVE["instagram_app_secret"],
        "INSTAGRAM_WEBHOOK_VERIFY_TOKEN": "serve-test-verify-token",
        "HOST": "127.0.0.1",
        **values,
    }


def test_the_command_refuses_two_processes_without_redis_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env=_env(tmp_path, WEB_CONCURRENCY="2", PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "WEB_CONCURRENCY=2 needs REDIS_URL" in done.stderr


def _serving_processes(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor `pid` spawned (not multiprocessing's resource tracker)."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_the_command_serves_with_two_processes(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env=_env(tmp_path, WEB_CONCURRENCY="2", PORT=str(port), REDIS_URL=REDIS_TEST_URL),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        answered = 0
        while time.monotonic() < deadline and answered < 20:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
                continue
            assert answer.status_code == 200
            assert answer.json() == {"status": "ok"}
            answered += 1
            workers = _serving_processes(process.pid)
        assert answered == 20, (tmp_path / "serve.log").read_text()
        # uvicorn's supervisor and its two serving processes.
        assert len(workers) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()
