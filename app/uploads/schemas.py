"""What the uploads routes answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.uploads.models import Upload


class UploadOut(BaseModel):
    """An uploaded file, checked and ready to publish: put its `upload_id` wherever a publishing POST takes a URL."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "upload_id": "upl_3q2+7wEXAMPLE0kF9mZrU1bq8R2sPq",
                    "kind": "video",
                    "width": 1080,
                    "height": 1920,
                    "duration": 15.0,
                    "size": 8421377,
                    "expires_at": "2026-12-06T10:00:00Z",
                    "content_type": "video/mp4",
                    "filename": "tutorial.mp4",
                    "keep": False,
                    "warnings": [],
                }
            ]
        }
    )

    upload_id: str
    kind: str = Field(description="image or video")
    width: int
    height: int
    duration: float | None = Field(description="Seconds, for a video")
    size: int = Field(description="Bytes")
    expires_at: datetime = Field(
        description="Deleted then if no post has used it (7 days); a post that publishes it deletes it sooner "
        "unless `keep` is true"
    )
    content_type: str
    filename: str | None
    keep: bool = Field(description="Kept after publishing (until it expires or is deleted)")
    warnings: list[str] = Field(
        default_factory=list, description="What Instagram advises without refusing (a reel not in 9:16)"
    )


class UploadDeleted(BaseModel):
    message: str = "Upload deleted"
    upload_id: str


def upload_out(upload: Upload, warnings: list[str] | None = None) -> UploadOut:
    return UploadOut(
        upload_id=upload.id,
        kind=upload.kind,
        width=upload.width,
        height=upload.height,
        duration=upload.duration_seconds,
        size=upload.size,
        expires_at=upload.expires_at,
        content_type=upload.content_type,
        filename=upload.filename,
        keep=upload.keep,
        warnings=warnings or [],
    )
