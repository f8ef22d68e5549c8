"""Browser tests: the service as `make run` serves it, driven by Debian's headless Chromium through selenium.

`make test-browser` runs them (`-m browser`; `make test` leaves them out). The service runs as its own process
in the embedded mode on a free loopback port, with PUBLIC_BASE_URL unset (so its links follow HOST and PORT,
as for a new user). A failing test leaves a screenshot and the page's HTML under var/browser/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")
# Everything that would make Chromium reach for the network on its own (this machine has none).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


@dataclass
class RunningService:
    base_url: str
    env: dict[str, str]

    def token(self, sub: str = "alice") -> str:
        """`make token SUB=…` against this service's development secrets."""
        out = subprocess.run(
            [sys.executable, "-m", "app", "token", "--sub", sub],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def service() -> Iterator[RunningService]:
    """`make run` on a port of its own: SQLite, in-process jobs, the sandbox; no PUBLIC_BASE_URL."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="browser-service-"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INSTAGRAM_", "PUBLIC_BASE_URL", "DATABASE_", "REDIS"))
    }
    env |= {
        "APP_ENV": "development",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_VAR_DIR": str(workdir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'instagram.db'}",
        "LOG_JSON": "false",
    }
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (workdir / "server.log").read_text()
            assert time.monotonic() < deadline, "the service did not start within 60 s"
            time.sleep(0.2)
        yield RunningService(base_url, env)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so selenium never looks for (or downloads) one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: webdriver.Chrome, service: RunningService) -> webdriver.Chrome:
    """The browser, on a clean slate: no stored Swagger authorization, no console messages left over."""
    browser.get(f"{service.base_url}/favicon.ico")
    browser.execute_script("window.localStorage.clear();")
    browser.get_log("browser")  # type: ignore[no-untyped-call]
    return browser


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        driver = getattr(item, "funcargs", {}).get("page") or getattr(item, "funcargs", {}).get("browser")
        if driver is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = item.name.replace("/", "_").replace("[", "_").replace("]", "")
            driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
            (SCREENSHOTS / f"{name}.html").write_text(driver.page_source)
            report.sections.append(("browser", f"screenshot and page: {SCREENSHOTS / name}.png / .html"))
    return report
