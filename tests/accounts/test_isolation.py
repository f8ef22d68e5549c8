"""Every record belongs to one user: another user's ids answer 404 on every route, never 403 or data."""

from __future__ import annotations

import httpx

from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API


async def test_another_users_ids_answer_404_everywhere(client: httpx.AsyncClient, make: Factory) -> None:
    account = await make.connected_account("john_doe", sub="alice")
    post = await make.published_post(account)
    account_id, post_id = account.id, post.id
    bob = auth_headers("bob")
    attempts = [
        ("GET", f"{API}/accounts/{account_id}", None),
        ("DELETE", f"{API}/accounts/{account_id}", None),
        ("GET", f"{API}/account/info?account_id={account_id}", None),
        ("GET", f"{API}/media?account_id={account_id}", None),
        ("GET", f"{API}/account/insights?account_id={account_id}", None),
        ("GET", f"{API}/posts/{post_id}", None),
        ("DELETE", f"{API}/posts/{post_id}", None),
        ("POST", f"{API}/posts/{post_id}/retry", None),
        ("GET", f"{API}/{post_id}/insights", None),
        ("GET", f"{API}/{post_id}/insights/history", None),
        ("POST", f"{API}/posts", {"account_id": account_id, "image_url": "https://example.com/b.jpg"}),
        ("POST", f"{API}/stories", {"account_id": account_id, "image_url": "https://example.com/b.jpg"}),
        ("POST", f"{API}/reels", {"account_id": account_id, "video_url": "https://example.com/b.mp4"}),
        (
            "POST",
            f"{API}/carousels",
            {
                "account_id": account_id,
                "items": [{"image_url": "https://example.com/b.jpg"}, {"image_url": "https://example.com/c.jpg"}],
            },
        ),
        ("POST", f"{API}/batch-post", {"image_url": "https://example.com/b.jpg", "account_ids": [account_id]}),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=bob, json=body)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert "error" in response.json()
        assert "john_doe" not in response.text
    # Bob sees nothing, and Alice's records are untouched.
    assert (await client.get(f"{API}/accounts", headers=bob)).json() == []
    assert (await client.get(f"{API}/posts", headers=bob)).json()["posts"] == []
    assert (await client.get(f"{API}/accounts/{account_id}", headers=auth_headers("alice"))).json()["is_active"] is True
