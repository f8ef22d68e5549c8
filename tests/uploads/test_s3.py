"""Uploads in an S3-compatible bucket: moto's S3 server, a real HTTP server on loopback, stands in for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest_asyncio
from botocore.exceptions import ClientError
from fastapi import FastAPI
from sqlalchemy import update

from app.db import unit_of_work, utcnow
from app.main import app_context
from app.uploads.models import Upload
from app.uploads.storage import PART_BYTES, S3Storage
from app.uploads.tasks import expire_uploads
from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API, connect_account, published, until_published
from tests.uploads.conftest import ACCESS_KEY, SECRET_KEY, S3Server, s3_client
from tests.uploads.test_uploads_api import UPLOADS, _video, upload


@pytest_asyncio.fixture
async def on_s3(
    pg_database_url: str, s3_server: S3Server, s3_bucket: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(
        pg_database_url,
        upload_storage="s3",
        upload_s3_bucket=s3_bucket,
        upload_s3_endpoint_url=s3_server.endpoint_url,
        upload_s3_access_key_id=ACCESS_KEY,
        upload_s3_secret_access_key=SECRET_KEY,
    )
    async with running_app(settings) as pair:
        yield pair


async def _object(s3_server: S3Server, bucket: str, key: str) -> bytes | None:
    async with s3_client(s3_server) as s3:
        try:
            answer = await s3.get_object(Bucket=bucket, Key=key)
        except ClientError:
            return None
        async with answer["Body"] as body:
            data: bytes = await body.read()
            return data


async def test_a_video_goes_to_the_bucket_and_instagram_fetches_it_presigned(
    on_s3: tuple[FastAPI, httpx.AsyncClient], s3_server: S3Server, s3_bucket: str
) -> None:
    app, client = on_s3
    assert isinstance(app_context(app).uploads, S3Storage)
    account = await connect_account(client)
    content = _video("clip_20s.mp4")
    body = (await upload(client, content, "clip.mp4", "video/mp4")).json()
    key = f"uploads/{body['upload_id']}.mp4"
    assert await _object(s3_server, s3_bucket, key) == content
    response = await client.post(
        f"{API}/reels", headers=auth_headers(), json={"account_id": account["id"], "video_url": body["upload_id"]}
    )
    await until_published(client, response)
    (entry,) = await published(client)
    url = urlsplit(entry["params"]["video_url"])
    assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint_url
    assert url.path == f"/{s3_bucket}/{key}" and "X-Amz-Signature=" in url.query
    # Published, not kept: the expiry removes the object.
    assert await expire_uploads({"app": app_context(app)}) == 1
    assert await _object(s3_server, s3_bucket, key) is None


async def test_a_large_video_is_sent_in_parts(
    on_s3: tuple[FastAPI, httpx.AsyncClient], s3_server: S3Server, s3_bucket: str
) -> None:
    _, client = on_s3
    video = _video("clip_20s.mp4")
    # A `free` box after the video: a valid MP4 larger than one part, its index still at the start.
    padding = 2 * PART_BYTES + 12345
    content = video + (padding + 8).to_bytes(4, "big") + b"free" + bytes(padding)
    body = (await upload(client, content, "big.mp4", "video/mp4")).json()
    assert body["size"] == len(content)
    assert await _object(s3_server, s3_bucket, f"uploads/{body['upload_id']}.mp4") == content


async def test_an_unused_upload_expires_from_the_bucket(
    on_s3: tuple[FastAPI, httpx.AsyncClient], s3_server: S3Server, s3_bucket: str
) -> None:
    app, client = on_s3
    body = (await upload(client, _video(), "clip.mp4", "video/mp4", keep=True)).json()
    key = f"uploads/{body['upload_id']}.mp4"
    async with unit_of_work(app_context(app).sessionmaker) as session:
        await session.execute(
            update(Upload).where(Upload.id == body["upload_id"]).values(expires_at=utcnow() - timedelta(days=1))
        )
    assert await expire_uploads({"app": app_context(app)}) == 1
    assert await _object(s3_server, s3_bucket, key) is None
    assert (await client.get(f"{UPLOADS}/{body['upload_id']}", headers=auth_headers())).status_code == 404
