"""The settings of uploads, part of `app.config.Settings` (see `.env.example`, "uploads")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

UPLOAD_TTL_SECONDS = 7 * 24 * 3600


class UploadSettings(BaseSettings):
    """Where uploaded files live, and how long uploads and their signed URLs last."""

    # local: a directory (UPLOAD_DIR, default ./var/uploads), for the embedded default and one machine;
    # s3: an S3-compatible bucket, for replicas and workers on several machines.
    upload_storage: Literal["local", "s3"] = "local"
    upload_dir: str | None = None
    upload_s3_bucket: str | None = None
    # Unset: AWS itself. Set for MinIO, Ceph, R2... (path-style addressing is used then).
    upload_s3_endpoint_url: str | None = None
    upload_s3_region: str = "us-east-1"
    upload_s3_access_key_id: str | None = None
    upload_s3_secret_access_key: SecretStr | None = None
    upload_s3_prefix: str = "uploads/"
    # An upload no post used is deleted after this; one a post publishes is deleted then (unless kept).
    upload_ttl_seconds: int = Field(default=UPLOAD_TTL_SECONDS, ge=60)
    # How long the signed URL Instagram fetches an upload from is valid (it fetches while processing).
    upload_url_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> UploadSettings:
        if self.upload_storage == "s3" and not self.upload_s3_bucket:
            raise ValueError("UPLOAD_S3_BUCKET must be set when UPLOAD_STORAGE is s3")
        return self
