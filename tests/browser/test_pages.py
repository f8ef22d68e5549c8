"""What a new user sees in a browser: Swagger UI, ReDoc, the consent page and the end of the OAuth flow."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import RunningService

pytestmark = pytest.mark.browser

API = "/api/sns/instagram"
WAIT_SECONDS = 20


def _wait(driver: WebDriver, seconds: float = WAIT_SECONDS) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds)


def _console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """The console's errors since the last look (reading the log empties it)."""
    assert isinstance(driver, Chrome)
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [e for e in entries if e.get("level") == "SEVERE"]


def _foreign_resources(driver: WebDriver, base_url: str) -> list[str]:
    """Every resource the page loaded from anywhere but this service."""
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(Array.from(document.images).map(i => i.currentSrc || i.src));"
    )
    origin = urlsplit(base_url)
    return [n for n in names if n and not n.startswith("data:") and urlsplit(n).netloc != origin.netloc]


def _operation_count(service: RunningService) -> int:
    spec = httpx.get(f"{service.base_url}/openapi.json").json()
    # Swagger UI shows the OpenAPI 3.1 `webhooks` (the event payloads) as operations too.
    return sum(len(item) for section in ("paths", "webhooks") for item in spec.get(section, {}).values())


def _authorize_swagger(driver: WebDriver, token: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "button.authorize").click()
    field = _wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize").click()
    _wait(driver).until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".auth-btn-wrapper button.btn-done"))).click()


def _open_operation(driver: WebDriver, operation_id: str, tag: str) -> WebElement:
    block = _wait(driver).until(ec.presence_of_element_located((By.ID, f"operations-{tag}-{operation_id}")))
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    _wait(driver).until(lambda _: block.find_elements(By.CSS_SELECTOR, "button.execute"))
    return block


def _execute(driver: WebDriver, block: WebElement) -> tuple[int, str]:
    """Press Execute on an open operation; its answer's status and body as Swagger UI shows them."""
    for old in block.find_elements(By.CSS_SELECTOR, ".btn-clear"):
        old.click()
    block.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = _wait(driver).until(
        lambda _: (
            block.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status").text.strip()
            or False
        )
    )
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description pre").text
    return int(str(status).split()[0]), body


class TestSwaggerUi:
    def test_root_leads_to_every_operation_with_no_console_error(
        self, page: WebDriver, service: RunningService
    ) -> None:
        page.get(service.base_url + "/")
        assert urlsplit(page.current_url).path == "/docs"
        expected = _operation_count(service)
        _wait(page).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == expected)
        assert "make token SUB=alice" in page.find_element(By.CSS_SELECTOR, ".information-container").text
        assert _console_errors(page) == []
        assert _foreign_resources(page, service.base_url) == []

    def test_authorize_then_execute_get_accounts(self, page: WebDriver, service: RunningService) -> None:
        page.get(service.base_url + "/docs")
        _wait(page).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize")))
        _authorize_swagger(page, service.token("alice"))
        block = _open_operation(page, "list_accounts_api_sns_instagram_accounts_get", "accounts")
        status, body = _execute(page, block)
        assert status == 200
        assert isinstance(json.loads(body), list)
        assert _console_errors(page) == []

    def test_a_token_pasted_with_bearer_gets_the_hint(self, page: WebDriver, service: RunningService) -> None:
        page.get(service.base_url + "/docs")
        _wait(page).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize")))
        _authorize_swagger(page, "Bearer " + service.token("alice"))
        block = _open_operation(page, "list_accounts_api_sns_instagram_accounts_get", "accounts")
        status, body = _execute(page, block)
        assert status == 401
        assert "Paste the token alone" in body


class TestRedoc:
    def test_renders_fully_offline(self, page: WebDriver, service: RunningService) -> None:
        page.get(service.base_url + "/redoc")
        expected = _operation_count(service)
        _wait(page).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")) >= expected
        )
        logo = _wait(page).until(ec.presence_of_element_located((By.CSS_SELECTOR, "img[alt='redocly logo']")))
        assert urlsplit(logo.get_attribute("src") or "").path == "/docs-assets/redoc-logo-mini.svg"
        _wait(page).until(lambda _: page.execute_script("return arguments[0].naturalWidth > 0", logo))
        assert "make token SUB=alice" in page.find_element(By.CSS_SELECTOR, ".api-info").text
        assert _console_errors(page) == []
        assert _foreign_resources(page, service.base_url) == []


def _open_consent_page(page: WebDriver, service: RunningService, sub: str) -> None:
    answer = httpx.get(
        f"{service.base_url}{API}/oauth/authorize", headers={"Authorization": f"Bearer {service.token(sub)}"}
    )
    assert answer.status_code == 200
    page.get(answer.json()["auth_url"])
    _wait(page).until(ec.visibility_of_element_located((By.ID, "username")))


def _accounts(service: RunningService, sub: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{service.base_url}{API}/accounts", headers={"Authorization": f"Bearer {service.token(sub)}"})
    accounts: list[dict[str, Any]] = answer.json()
    return accounts


class TestOAuthInTheBrowser:
    def test_allow_ends_on_a_connected_page(self, page: WebDriver, service: RunningService) -> None:
        _open_consent_page(page, service, "oauth_allow")
        page.find_element(By.ID, "username").send_keys("john_doe")
        page.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
        result = _wait(page).until(ec.visibility_of_element_located((By.ID, "result")))
        assert result.text == "Connected @john_doe"
        assert urlsplit(page.current_url).path == f"{API}/callback"
        assert [a["account_name"] for a in _accounts(service, "oauth_allow")] == ["john_doe"]
        assert _console_errors(page) == []

    def test_cancel_ends_on_the_error_in_words_and_a_way_back(self, page: WebDriver, service: RunningService) -> None:
        _open_consent_page(page, service, "oauth_cancel")
        page.find_element(By.CSS_SELECTOR, "button[value=cancel]").click()
        error = _wait(page).until(ec.visibility_of_element_located((By.ID, "error")))
        assert "not granted" in error.text
        assert _accounts(service, "oauth_cancel") == []
        page.find_element(By.ID, "start-again").click()
        _wait(page).until(lambda d: urlsplit(d.current_url).path == "/docs")
        _wait(page).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#operations-tag-oauth"))

    def test_a_username_the_rule_refuses_says_which_characters_are_allowed(
        self, page: WebDriver, service: RunningService
    ) -> None:
        _open_consent_page(page, service, "oauth_refused")
        field = page.find_element(By.ID, "username")
        field.send_keys("john-doe")
        page.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
        # The browser keeps the form (the pattern refuses it) and the rule is on the page.
        assert page.execute_script("return arguments[0].validity.patternMismatch", field) is True
        assert urlsplit(page.current_url).path == "/sandbox/oauth/authorize"
        hint = page.find_element(By.ID, "username-hint").text
        assert "letters, digits, periods (.) and underscores (_)" in hint
        assert field.get_attribute("title") == hint


class TestPublishFromSwagger:
    def test_execute_twice_publishes_once_and_the_post_is_in_get_media(
        self, page: WebDriver, service: RunningService
    ) -> None:
        _open_consent_page(page, service, "alice")
        page.find_element(By.ID, "username").send_keys("swagger_user")
        page.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
        account_id = int(_wait(page).until(ec.visibility_of_element_located((By.ID, "account-id"))).text.split()[-1])

        page.get(service.base_url + "/docs")
        _wait(page).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize")))
        _authorize_swagger(page, service.token("alice"))
        block = _open_operation(page, "create_post_api_sns_instagram_posts_post", "publishing")
        key_field = block.find_element(By.CSS_SELECTOR, "tr[data-param-name='Idempotency-Key'] input")
        assert key_field.get_attribute("value"), "Swagger UI fills in the generated Idempotency-Key"
        body = block.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
        example = json.loads(body.get_attribute("value") or "{}")
        body.clear()
        body.send_keys(json.dumps({**example, "account_id": account_id}))
        first_status, first = _execute(page, block)
        assert first_status == 201, first
        second_status, second = _execute(page, block)
        assert second_status == 201
        assert json.loads(second)["post_id"] == json.loads(first)["post_id"]

        media = _open_operation(page, "recent_media_api_sns_instagram_media_get", "accounts")
        media.find_element(By.CSS_SELECTOR, "tr[data-param-name='account_id'] input").send_keys(str(account_id))
        status, listed = _execute(page, media)
        assert status == 200
        ids = [p["id"] for p in json.loads(listed)["posts"]]
        assert ids[0] == json.loads(first)["post_id"]
        assert ids.count(json.loads(first)["post_id"]) == 1
        assert _console_errors(page) == []
