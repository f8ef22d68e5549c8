"""Uploads end to end in the embedded mode (local storage under var/): upload, check, own, publish, expire."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import update

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.main import app_context
from app.media.synthetic import render_image, synthetic_media
from app.uploads.models import Upload
from app.uploads.storage import LocalStorage
from app.uploads.tasks import expire_uploads
from tests.conftest import PUBLIC_BASE_URL, auth_headers, make_settings, running_app
from tests.support import API, connect_account, published, until_published

UPLOADS = f"{API}/uploads"


def _video(name: str = "clip_20s.mp4") -> bytes:
    media = synthetic_media(f"https://example.com/{name}")
    assert media is not None
    return media.content


def _jpeg(width: int = 1080, height: int = 1080) -> bytes:
    return render_image(f"upload-{width}x{height}", width, height, "JPEG")


async def upload(
    client: httpx.AsyncClient,
    content: bytes,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    *,
    sub: str = "alice",
    keep: bool | None = None,
) -> httpx.Response:
    data = {"keep": "true" if keep else "false"} if keep is not None else None
    return await client.post(
        UPLOADS, headers=auth_headers(sub), files={"file": (filename, content, content_type)}, data=data
    )


@pytest_asyncio.fixture
async def local(
    pg_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app committing for real, its uploads in a directory of this test's own."""
    folder = tmp_path_factory.mktemp("uploads")
    async with running_app(make_settings(pg_database_url, upload_dir=str(folder))) as pair:
        yield pair


def _storage(app: FastAPI) -> LocalStorage:
    storage = app_context(app).uploads
    assert isinstance(storage, LocalStorage)
    return storage


async def _expire(ctx: AppContext, upload_id: str) -> None:
    async with unit_of_work(ctx.sessionmaker) as session:
        await session.execute(update(Upload).where(Upload.id == upload_id).values(expires_at=utcnow() - timedelta(1)))


class TestUpload:
    async def test_an_image_is_checked_stored_and_described(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = local
        response = await upload(client, _jpeg(1080, 1350), "look.jpg")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["upload_id"].startswith("upl_")
        assert (body["kind"], body["width"], body["height"], body["duration"]) == ("image", 1080, 1350, None)
        assert body["size"] == len(_jpeg(1080, 1350)) and body["content_type"] == "image/jpeg"
        assert body["filename"] == "look.jpg" and body["keep"] is False
        assert body["expires_at"]
        assert _storage(app).path(f"{body['upload_id']}.jpg").read_bytes() == _jpeg(1080, 1350)
        again = await client.get(f"{UPLOADS}/{body['upload_id']}", headers=auth_headers())
        assert again.status_code == 200
        assert {k: v for k, v in again.json().items() if k != "warnings"} == {
            k: v for k, v in body.items() if k != "warnings"
        }

    async def test_a_video_is_probed(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        response = await upload(client, _video("clip_20s.mp4"), "clip.mp4", "video/mp4")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["kind"], body["width"], body["height"], body["duration"]) == ("video", 1080, 1920, 20.0)
        assert body["content_type"] == "video/mp4" and body["warnings"] == []
        wide = await upload(client, _video("wide_1280x720_10s.mp4"), "wide.mp4", "video/mp4")
        assert wide.json()["warnings"] == ["Instagram advises 9:16 for reels; this video is 1280x720"]

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"just some text", "Unsupported file: upload a JPEG or PNG image"),
            (b"", "file is empty"),
            (render_image("small", 200, 200, "JPEG"), "Image too small (min 320x320)"),
            (render_image("gif", 400, 400, "GIF"), "Invalid image format. Supported: JPEG, PNG"),
        ],
    )
    async def test_what_instagram_would_refuse_is_400(
        self, local: tuple[FastAPI, httpx.AsyncClient], content: bytes, message: str
    ) -> None:
        app, client = local
        response = await upload(client, content)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]
        assert list(_storage(app).root.glob("upl_*")) == []
        assert list(_storage(app).staging.iterdir()) == []

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("codec_mpeg4.mp4", "Video codec mpeg4 is not accepted by Instagram"),
            ("slow_15fps.mp4", "Frame rate 15.00 fps is outside Instagram's 23 to 60 fps"),
            ("short_2s.mp4", "Video duration 2.0 s is outside"),
        ],
    )
    async def test_videos_instagram_would_refuse_are_400(
        self, local: tuple[FastAPI, httpx.AsyncClient], name: str, message: str
    ) -> None:
        _, client = local
        response = await upload(client, _video(name), name, "video/mp4")
        assert response.status_code == 400
        assert message in response.json()["error"]

    async def test_an_image_over_8_mb_is_413(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        noise = Image.frombytes("RGB", (2048, 1536), bytes(range(256)) * (2048 * 1536 * 3 // 256))
        buffer = io.BytesIO()
        noise.save(buffer, format="PNG", compress_level=0)
        assert buffer.tell() > 8 * 1024 * 1024
        response = await upload(client, buffer.getvalue(), "big.png", "image/png")
        assert response.status_code == 413
        assert response.json()["code"] == "upload_too_large"

    async def test_a_declared_body_over_300_mb_is_refused_before_reading(
        self, local: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        _, client = local
        headers = {
            **auth_headers(),
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(400 * 1024 * 1024),
        }
        response = await client.post(UPLOADS, headers=headers, content=b"--x\r\n")
        assert response.status_code == 413

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"json": {"file": "x"}}, "The upload must be multipart/form-data"),
            ({"data": {"keep": "true"}, "files": {"other": ("a.jpg", b"x", "image/jpeg")}}, "file is required"),
            (
                {"files": {"file": ("a.jpg", b"x", "image/jpeg")}, "data": {"keep": "maybe"}},
                "keep must be true or false",
            ),
        ],
    )
    async def test_a_malformed_form_is_400(
        self, local: tuple[FastAPI, httpx.AsyncClient], kwargs: dict[str, Any], message: str
    ) -> None:
        _, client = local
        response = await client.post(UPLOADS, headers=auth_headers(), **kwargs)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]

    async def test_without_a_token_it_is_401(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        response = await client.post(UPLOADS, files={"file": ("a.jpg", _jpeg(), "image/jpeg")})
        assert response.status_code == 401


class TestOwnership:
    async def test_another_users_upload_is_404_everywhere(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        mine = (await upload(client, _jpeg(), sub="alice")).json()["upload_id"]
        bob = await connect_account(client, "bobs_shop", sub="bob")
        assert (await client.get(f"{UPLOADS}/{mine}", headers=auth_headers("bob"))).status_code == 404
        assert (await client.delete(f"{UPLOADS}/{mine}", headers=auth_headers("bob"))).status_code == 404
        response = await client.post(
            f"{API}/posts", headers=auth_headers("bob"), json={"account_id": bob["id"], "image_url": mine}
        )
        assert response.status_code == 404
        assert response.json() == {"error": f"Upload not found: {mine}", "code": "upload_not_found"}
        assert await published(client) == []

    async def test_an_unknown_upload_id_is_404(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        account = await connect_account(client)
        unknown = "upl_" + "A" * 32
        response = await client.post(
            f"{API}/reels", headers=auth_headers(), json={"account_id": account["id"], "video_url": unknown}
        )
        assert response.status_code == 404
        assert (await client.get(f"{UPLOADS}/{unknown}", headers=auth_headers())).status_code == 404


class TestPublishing:
    async def test_an_uploaded_image_is_published_and_then_removed(
        self, local: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = local
        account = await connect_account(client)
        upload_id = (await upload(client, _jpeg(1080, 1920))).json()["upload_id"]
        response = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account["id"], "image_url": upload_id, "fit": "crop", "caption": "uploaded"},
        )
        assert response.status_code == 201, response.text
        (entry,) = await published(client)
        assert entry["params"]["image_url"].startswith(f"{PUBLIC_BASE_URL}/media/")
        post = (await client.get(f"{API}/posts/{response.json()['db_id']}", headers=auth_headers())).json()
        assert post["media"] == [{"role": "image", "type": "image", "source_url": upload_id}]
        # Published and not kept: it is gone at the next expiry run, file and all.
        assert (await expire_uploads({"app": app_context(app)})) == 1
        assert (await client.get(f"{UPLOADS}/{upload_id}", headers=auth_headers())).status_code == 404
        assert list(_storage(app).root.glob("upl_*")) == []

    async def test_an_uploaded_video_is_fetched_by_instagram_from_a_signed_url(
        self, local: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = local
        account = await connect_account(client)
        upload_id = (await upload(client, _video(), "clip.mp4", "video/mp4", keep=True)).json()["upload_id"]
        response = await client.post(
            f"{API}/reels",
            headers=auth_headers(),
            json={"account_id": account["id"], "video_url": upload_id, "first_comment": "from an upload"},
        )
        await until_published(client, response)
        (entry,) = await published(client)
        url = urlsplit(entry["params"]["video_url"])
        assert f"{url.scheme}://{url.netloc}" == PUBLIC_BASE_URL
        assert url.path == f"/uploads/{upload_id}.mp4"
        assert set(parse_qs(url.query)) == {"expires", "signature"}
        # The signed URL serves the file; a signature for another key or a changed expiry does not.
        served = await client.get(entry["params"]["video_url"])
        assert served.status_code == 200 and served.content == _video()
        assert served.headers["content-type"] == "video/mp4"
        query = parse_qs(url.query)
        later = f"{url.path}?expires={int(query['expires'][0]) + 1}&signature={query['signature'][0]}"
        assert (await client.get(later)).status_code == 404
        # Kept: it outlives the publication, and can be deleted by hand.
        assert (await expire_uploads({"app": app_context(app)})) == 0
        assert (await client.get(f"{UPLOADS}/{upload_id}", headers=auth_headers())).status_code == 200
        deleted = await client.delete(f"{UPLOADS}/{upload_id}", headers=auth_headers())
        assert deleted.json() == {"message": "Upload deleted", "upload_id": upload_id}
        assert list(_storage(app).root.glob("upl_*")) == []

    async def test_the_kinds_rules_apply_when_it_is_published(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        account = await connect_account(client)
        video = (await upload(client, _video("long_90s.mp4"), "long.mp4", "video/mp4")).json()["upload_id"]
        image = (await upload(client, _jpeg())).json()["upload_id"]
        story = await client.post(
            f"{API}/stories", headers=auth_headers(), json={"account_id": account["id"], "video_url": video}
        )
        assert story.status_code == 400
        assert "for a story video (3 to 60 seconds)" in story.json()["error"]
        swapped = await client.post(
            f"{API}/reels", headers=auth_headers(), json={"account_id": account["id"], "video_url": image}
        )
        assert swapped.status_code == 400
        assert "video_url names an upload that is an image" in swapped.json()["error"]
        assert await published(client) == []

    async def test_an_upload_in_use_cannot_be_deleted(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = local
        account = await connect_account(client)
        upload_id = (await upload(client, _jpeg())).json()["upload_id"]
        scheduled = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account["id"],
                "image_url": upload_id,
                "scheduled_at": (utcnow() + timedelta(days=9)).isoformat(),
            },
        )
        assert scheduled.status_code == 202
        response = await client.delete(f"{UPLOADS}/{upload_id}", headers=auth_headers())
        assert response.status_code == 409 and response.json()["code"] == "upload_in_use"
        # The post outlives the 7 days: so does the upload.
        upload_row = (await client.get(f"{UPLOADS}/{upload_id}", headers=auth_headers())).json()
        assert upload_row["expires_at"] > (utcnow() + timedelta(days=9)).isoformat()


class TestExpiry:
    async def test_an_unused_upload_expires_with_its_file(self, local: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = local
        upload_id = (await upload(client, _video(), "clip.mp4", "video/mp4", keep=True)).json()["upload_id"]
        kept = (await upload(client, _jpeg())).json()["upload_id"]
        path = _storage(app).path(f"{upload_id}.mp4")
        assert path.exists()
        await _expire(app_context(app), upload_id)
        assert (await client.get(f"{UPLOADS}/{upload_id}", headers=auth_headers())).status_code == 404
        assert (await expire_uploads({"app": app_context(app)})) == 1
        assert not path.exists()
        assert (await client.get(f"{UPLOADS}/{kept}", headers=auth_headers())).status_code == 200
