"""The seed's example 2 (its Flask batch-post route), run for real: a plain synchronous client making the same
Instagram calls for one account after another.

`api.post_feed(image_url, caption, hashtags)` is a container creation (`POST /{ig-user-id}/media`) and a
publish (`POST /{ig-user-id}/media_publish`); results are collected in the seed's shape. Nothing is
extrapolated from a single post: every account is posted to, in turn, against the same sandbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.harness import Connected


@dataclass(frozen=True)
class LoopResult:
    seconds: float
    results: list[dict[str, Any]]

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.results if r["status"] == "success")


def post_feed(client: httpx.Client, graph_url: str, account: Connected, image_url: str, caption: str) -> str:
    """Create the image container, then publish it: the two calls of the seed's `InstagramAPI.post_feed`."""
    auth = {"Authorization": f"Bearer {account.sandbox_token}"}
    container = client.post(
        f"{graph_url}/{account.ig_user_id}/media", data={"image_url": image_url, "caption": caption}, headers=auth
    )
    container.raise_for_status()
    published = client.post(
        f"{graph_url}/{account.ig_user_id}/media_publish", data={"creation_id": container.json()["id"]}, headers=auth
    )
    published.raise_for_status()
    return str(published.json()["id"])


def run_seed_loop(
    graph_url: str, accounts: list[Connected], image_url: str, caption: str, hashtags: list[str]
) -> LoopResult:
    """`for account in accounts: post_feed(...)`, timed from the first call to the last answer. Blocking."""
    text = caption + ("\n\n" + " ".join(f"#{tag}" for tag in hashtags) if hashtags else "")
    results: list[dict[str, Any]] = []
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        for account in accounts:
            try:
                post_id = post_feed(client, graph_url, account, image_url, text)
                results.append({"account": account.username, "status": "success", "post_id": post_id})
            except httpx.HTTPError as exc:
                results.append({"account": account.username, "status": "failed", "error": str(exc)})
        elapsed = time.perf_counter() - started
    return LoopResult(elapsed, results)
