"""Videos are probed before any container exists: what Instagram would refuse after minutes of processing is a
400 now, in one sentence, and nothing is published."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import auth_headers
from tests.support import API, connect_account, published, until_published


@pytest.mark.parametrize(
    ("path", "body", "sentence"),
    [
        ("reels", {"video_url": "https://example.com/codec_mpeg4.mp4"}, "Video codec mpeg4 is not accepted"),
        ("reels", {"video_url": "https://example.com/audio_mp3.mp4"}, "Audio codec mp3 is not accepted"),
        ("reels", {"video_url": "https://example.com/slow_10fps.mp4"}, "Frame rate 10.00 fps is outside"),
        ("reels", {"video_url": "https://example.com/uhd_3840x2160.mp4"}, "3840 px wide"),
        ("stories", {"video_url": "https://example.com/story_61s.mp4"}, "for a story video (3 to 60 seconds)"),
        (
            "carousels",
            {"items": [{"image_url": "https://example.com/a.jpg"}, {"video_url": "https://example.com/c_90s.mp4"}]},
            "items[1].video_url: Video duration 90.0 s is outside what Instagram accepts for a carousel video",
        ),
    ],
)
async def test_a_video_instagram_would_reject_is_refused_before_any_container(
    pg_client: httpx.AsyncClient, path: str, body: dict[str, object], sentence: str
) -> None:
    account = await connect_account(pg_client)
    response = await pg_client.post(f"{API}/{path}", headers=auth_headers(), json={"account_id": account["id"], **body})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_media"
    assert sentence in response.json()["error"]
    assert await published(pg_client) == []


async def test_a_silent_reel_is_published(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    response = await pg_committing_client.post(
        f"{API}/reels",
        headers=auth_headers(),
        json={"account_id": account["id"], "video_url": "https://example.com/quiet_silent_24fps.mp4"},
    )
    await until_published(pg_committing_client, response)
    (entry,) = await published(pg_committing_client)
    assert entry["media_product_type"] == "REELS"
