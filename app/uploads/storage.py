"""Where uploaded files live: a local directory, or an S3-compatible bucket (through aiobotocore).

A file arrives in the staging directory (always local: the upload is streamed there and checked first), then
`put` moves it into storage: a rename for the local directory, a multipart upload in 8 MB parts for S3, so
that no file is ever whole in memory. Instagram fetches it from a short-lived signed URL: on this service
(`/uploads/<key>?expires=…&signature=…`, see signing.py) for the local directory, presigned for S3.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.config import Settings
from app.uploads import signing

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

PART_BYTES = 8 * 1024 * 1024


class Storage(Protocol):
    """Upload files by key."""

    staging: Path

    async def put(self, key: str, source: Path, content_type: str) -> None:
        """Move the staged file `source` into storage under `key` (the staged file is gone after)."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole file (images only: at most 8 MB)."""
        ...

    async def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes of the file."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; a missing one is no error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def signed_url(self, key: str, base_url: str) -> str:
        """A URL anyone holding it can GET the file from, for UPLOAD_URL_TTL_SECONDS."""
        ...

    async def aclose(self) -> None: ...


class LocalStorage:
    """A directory on this machine (the embedded default, one machine): files served by `/uploads/<key>`."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.upload_directory
        self.staging = self.root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        self._settings = settings

    def path(self, key: str) -> Path:
        return self.root / signing.checked_key(key)

    async def put(self, key: str, source: Path, content_type: str) -> None:
        # Same file system: a rename, atomic and instant.
        await asyncio.to_thread(os.replace, source, self.path(key))

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def read_head(self, key: str, size: int) -> bytes:
        def head() -> bytes:
            with self.path(key).open("rb") as file:
                return file.read(size)

        return await asyncio.to_thread(head)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def signed_url(self, key: str, base_url: str) -> str:
        return signing.signed_url(self._settings, base_url, key)

    async def aclose(self) -> None:
        return None


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Ceph, R2...): replicas and workers on several machines share it."""

    def __init__(self, settings: Settings) -> None:
        self.staging = settings.upload_directory / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        assert settings.upload_s3_bucket is not None
        self.bucket = settings.upload_s3_bucket
        self.prefix = settings.upload_s3_prefix
        self._settings = settings
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        async with self._lock:
            if self._client is None:
                from aiobotocore.config import AioConfig
                from aiobotocore.session import get_session

                settings = self._settings
                secret = settings.upload_s3_secret_access_key
                config = AioConfig(
                    s3={"addressing_style": "path" if settings.upload_s3_endpoint_url else "auto"},
                    signature_version="s3v4",
                    retries={"max_attempts": 3, "mode": "standard"},
                )
                self._client = await self._stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        region_name=settings.upload_s3_region,
                        endpoint_url=settings.upload_s3_endpoint_url,
                        aws_access_key_id=settings.upload_s3_access_key_id,
                        aws_secret_access_key=secret.get_secret_value() if secret else None,
                        config=config,
                    )
                )
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + signing.checked_key(key)

    async def put(self, key: str, source: Path, content_type: str) -> None:
        s3 = await self._s3()
        size = (await asyncio.to_thread(source.stat)).st_size
        try:
            if size <= PART_BYTES:
                body = await asyncio.to_thread(source.read_bytes)
                await s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=body, ContentType=content_type)
                return
            await self._put_in_parts(s3, key, source, content_type)
        finally:
            await asyncio.to_thread(source.unlink, missing_ok=True)

    async def _put_in_parts(self, s3: S3Client, key: str, source: Path, content_type: str) -> None:
        """A multipart upload, one 8 MB part in memory at a time."""
        created = await s3.create_multipart_upload(Bucket=self.bucket, Key=self._key(key), ContentType=content_type)
        upload_id = created["UploadId"]
        parts: list[CompletedPartTypeDef] = []
        try:
            with source.open("rb") as file:
                number = 1
                while chunk := await asyncio.to_thread(file.read, PART_BYTES):
                    part = await s3.upload_part(
                        Bucket=self.bucket, Key=self._key(key), UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
            await s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload_id)
            raise

    async def read(self, key: str) -> bytes:
        s3 = await self._s3()
        answer = await s3.get_object(Bucket=self.bucket, Key=self._key(key))
        async with answer["Body"] as body:
            return await body.read()

    async def read_head(self, key: str, size: int) -> bytes:
        s3 = await self._s3()
        answer = await s3.get_object(Bucket=self.bucket, Key=self._key(key), Range=f"bytes=0-{size - 1}")
        async with answer["Body"] as body:
            return await body.read()

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return False
        return True

    async def signed_url(self, key: str, base_url: str) -> str:
        s3 = await self._s3()
        return await s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=self._settings.upload_url_ttl_seconds,
        )

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None


def build_storage(settings: Settings) -> Storage:
    """The storage UPLOAD_STORAGE names."""
    if settings.upload_storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings)
