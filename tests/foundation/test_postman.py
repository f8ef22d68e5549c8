"""The Postman collection cannot drift from the API: every operation has a request, and the files are current."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "postman" / "instagram-service.postman_collection.json"
ENVIRONMENT = ROOT / "postman" / "instagram-service.postman_environment.json"


def _requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        found += _requests(item["item"]) if "item" in item else [item]
    return found


def _shape(path: str) -> str:
    """`/x/{{db_id}}/y` and `/x/{db_id}/y` alike: variables and placeholders become `{}`."""
    return re.sub(r"\{\{[^}]+\}\}|\{[^}]+\}", "{}", path)


def _operation(item: dict[str, Any]) -> tuple[str, str] | None:
    url = item["request"]["url"]
    if isinstance(url, str):  # a whole URL from a variable (the sandbox's consent page)
        return None
    path = "/" + "/".join(url["path"])
    return item["request"]["method"].lower(), _shape(path)


def _collection() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(COLLECTION.read_text())
    return data


async def test_every_openapi_operation_has_a_request(pg_client: httpx.AsyncClient) -> None:
    spec = (await pg_client.get("/openapi.json")).json()
    wanted = {(method, _shape(path)) for path, item in spec["paths"].items() for method in item}
    every_operation = next(f for f in _collection()["item"] if f["name"].startswith("2."))
    present = {op for op in map(_operation, _requests(every_operation["item"])) if op}
    missing = sorted(wanted - present)
    assert not missing, f"no Postman request for {missing}: add one in postman/build_collection.py"


def test_the_committed_files_are_what_the_generator_makes() -> None:
    check = subprocess.run(
        [sys.executable, "postman/build_collection.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_every_request_checks_its_status() -> None:
    for item in _requests(_collection()["item"]):
        tests = next(e for e in item["event"] if e["listen"] == "test")["script"]["exec"]
        assert tests[0].startswith('pm.test("status '), item["name"]


def test_the_environment_has_the_seeds_variables() -> None:
    environment = json.loads(ENVIRONMENT.read_text())
    assert {v["key"] for v in environment["values"]} == {"base_url", "jwt_token", "account_id"}
    assert _collection()["info"]["schema"].endswith("/collection/v2.1.0/collection.json")


def test_the_flow_connects_posts_reads_and_disconnects() -> None:
    flow = next(f for f in _collection()["item"] if f["name"].startswith("1."))
    steps = [(i["request"]["method"], _operation(i)) for i in _requests(flow["item"])]
    api = "/api/sns/instagram"
    assert steps == [
        ("GET", ("get", f"{api}/oauth/authorize")),
        ("GET", None),  # the consent page
        ("POST", None),  # its form: Allow
        ("GET", ("get", f"{api}/callback")),
        ("POST", ("post", f"{api}/posts")),
        ("GET", ("get", f"{api}/{{}}/insights")),
        ("GET", ("get", f"{api}/media")),
        ("DELETE", ("delete", f"{api}/accounts/{{}}")),
    ]
    callback = _requests(flow["item"])[3]
    assert 'pm.environment.set("account_id"' in "\n".join(callback["event"][0]["script"]["exec"])
