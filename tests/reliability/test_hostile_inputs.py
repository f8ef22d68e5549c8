"""Hostile inputs are bad input, never a 500: ids beyond 64 bits, NUL characters PostgreSQL cannot store."""

from __future__ import annotations

import httpx
import pytest

from app.ids import DB_ID_MAX
from tests.conftest import auth_headers
from tests.support import API, connect_account

TOO_BIG = "2807922000161205772888309760"  # the reproduction: far beyond a 64-bit integer
JUST_TOO_BIG = str(DB_ID_MAX + 1)

POST_NOT_FOUND = {"error": "Post not found", "code": "post_not_found"}
ACCOUNT_NOT_FOUND = {"error": "Account not found", "code": "account_not_found"}


@pytest.mark.parametrize("huge", [TOO_BIG, JUST_TOO_BIG])
@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/accounts/{id}", ACCOUNT_NOT_FOUND),
        ("DELETE", "/accounts/{id}", ACCOUNT_NOT_FOUND),
        ("GET", "/posts/{id}", POST_NOT_FOUND),
        ("DELETE", "/posts/{id}", POST_NOT_FOUND),
        ("POST", "/posts/{id}/retry", POST_NOT_FOUND),
        ("GET", "/{id}/insights", POST_NOT_FOUND),
        ("GET", "/{id}/insights/history", POST_NOT_FOUND),
        ("GET", "/media?account_id={id}", ACCOUNT_NOT_FOUND),
        ("GET", "/account/info?account_id={id}", ACCOUNT_NOT_FOUND),
        ("GET", "/account/insights?account_id={id}", ACCOUNT_NOT_FOUND),
        ("GET", "/posts?account_id={id}", ACCOUNT_NOT_FOUND),
    ],
)
async def test_ids_beyond_64_bits_are_unknown_ids(
    pg_client: httpx.AsyncClient, method: str, path: str, expected: dict[str, str], huge: str
) -> None:
    response = await pg_client.request(method, API + path.format(id=huge), headers=auth_headers())
    assert response.status_code == 404, response.text
    assert response.json() == expected


async def test_the_largest_id_is_an_ordinary_unknown_id(pg_client: httpx.AsyncClient) -> None:
    response = await pg_client.get(f"{API}/posts/{DB_ID_MAX}", headers=auth_headers())
    assert response.status_code == 404
    assert response.json() == POST_NOT_FOUND


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/posts", {"account_id": int(TOO_BIG), "image_url": "https://example.com/a.jpg"}),
        ("/stories", {"account_id": DB_ID_MAX + 1, "image_url": "https://example.com/a.jpg"}),
        ("/reels", {"account_id": int(TOO_BIG), "video_url": "https://example.com/a.mp4"}),
        (
            "/carousels",
            {
                "account_id": int(TOO_BIG),
                "items": [{"image_url": "https://example.com/a.jpg"}, {"image_url": "https://example.com/b.jpg"}],
            },
        ),
        ("/batch-post", {"account_ids": [1, int(TOO_BIG)], "image_url": "https://example.com/a.jpg"}),
    ],
)
async def test_body_account_ids_beyond_64_bits_are_unknown_accounts(
    pg_client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    response = await pg_client.post(API + path, headers=auth_headers(), json=body)
    assert response.status_code == 404, response.text
    assert response.json() == ACCOUNT_NOT_FOUND


async def test_an_out_of_range_id_beside_another_mistake_is_a_400(pg_client: httpx.AsyncClient) -> None:
    # Only a request whose one problem is an impossible id is "not found"; anything else is bad input.
    response = await pg_client.post(f"{API}/posts", headers=auth_headers(), json={"account_id": int(TOO_BIG)})
    assert response.status_code == 400
    assert response.json()["error"] == "account_id and image_url are required"


@pytest.mark.parametrize("value", [TOO_BIG, JUST_TOO_BIG])
async def test_a_cursor_beyond_64_bits_is_bad_input(pg_client: httpx.AsyncClient, value: str) -> None:
    response = await pg_client.get(f"{API}/posts", params={"cursor": value}, headers=auth_headers())
    assert response.status_code == 400
    assert response.json()["error"] == f"query parameter cursor must be at most {DB_ID_MAX}"


async def test_zero_and_negative_ids_stay_bad_input(pg_client: httpx.AsyncClient) -> None:
    response = await pg_client.get(f"{API}/accounts/0", headers=auth_headers())
    assert response.status_code == 400
    assert response.json()["error"] == "path parameter account_id must be at least 1"
    response = await pg_client.get(f"{API}/posts/-5", headers=auth_headers())
    assert response.status_code == 400


async def test_real_ids_still_work(pg_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_client)
    response = await pg_client.get(f"{API}/accounts/{account['id']}", headers=auth_headers())
    assert response.status_code == 200
    assert response.json()["id"] == account["id"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"caption": "before\x00after"}, "caption"),
        ({"image_url": "https://example.com/a\x00.jpg"}, "image_url"),
        ({"alt_text": "\x00"}, "alt_text"),
        ({"hashtags": ["ok", "bad\x00"]}, "hashtags[1]"),
    ],
)
async def test_nul_characters_are_refused_naming_the_field(
    pg_client: httpx.AsyncClient, extra: dict[str, object], field: str
) -> None:
    account = await connect_account(pg_client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg", **extra}
    response = await pg_client.post(f"{API}/posts", headers=auth_headers(), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == f"{field} must not contain the NUL character (\\u0000)"


async def test_nul_in_a_carousel_item_is_refused(pg_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_client)
    items = [
        {"image_url": "https://example.com/a.jpg", "alt_text": "a\x00"},
        {"image_url": "https://example.com/b.jpg"},
    ]
    response = await pg_client.post(
        f"{API}/carousels", headers=auth_headers(), json={"account_id": account["id"], "items": items}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "items[0].alt_text must not contain the NUL character (\\u0000)"
