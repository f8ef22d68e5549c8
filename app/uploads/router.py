"""Routes: upload a file (multipart, streamed), read or delete an upload, and the signed file URL Instagram
fetches an upload from (local storage)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse

from app.auth.dependencies import CurrentUser
from app.dependencies import ContextDep, SessionDep
from app.errors import Conflict, NotFound, error_responses
from app.openapi import API_PREFIX
from app.uploads import service, signing
from app.uploads.checks import check
from app.uploads.intake import UploadTooLarge, receive
from app.uploads.models import Upload
from app.uploads.schemas import UploadDeleted, UploadOut, upload_out
from app.uploads.storage import LocalStorage

router = APIRouter(prefix=API_PREFIX, tags=["uploads"])
files_router = APIRouter(tags=["operations"])

_TOO_LARGE: dict[int | str, Any] = {
    413: {
        "description": "Larger than Instagram takes (images 8 MB, videos 300 MB); the body is cut off there",
        "content": {"application/json": {"example": {"error": UploadTooLarge.message, "code": UploadTooLarge.code}}},
    }
}
_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG or PNG image (up to 8 MB), or an MP4 or MOV video (up to 300 MB)",
                        },
                        "keep": {
                            "type": "boolean",
                            "default": False,
                            "description": "Keep the file after a post publishes it (until it expires or is "
                            "deleted), to publish it again",
                        },
                    },
                }
            }
        },
    }
}
UploadId = Annotated[str, Path(max_length=64, description="The `upload_id` the upload answered")]


async def _owned(session: SessionDep, user: CurrentUser, upload_id: UploadId) -> Upload:
    upload = await service.get_owned(session, user.id, upload_id)
    if upload is None:
        raise NotFound("Upload not found", code="upload_not_found")
    return upload


@router.post(
    "/uploads",
    summary="Upload an image or a video to publish",
    status_code=201,
    response_model=UploadOut,
    openapi_extra=_MULTIPART_BODY,
    responses={
        **error_responses(
            400,
            401,
            examples={
                400: {"error": "Frame rate 15.00 fps is outside Instagram's 23 to 60 fps", "code": "invalid_media"}
            },
        ),
        **_TOO_LARGE,
    },
)
async def create_upload(request: Request, session: SessionDep, ctx: ContextDep, user: CurrentUser) -> UploadOut:
    """Streams the file to storage (never whole in memory), checks it as URL media are checked (an image's format
    and size; a video's container, codecs, duration, frame rate, resolution and bitrate, probed with FFmpeg),
    and answers its `upload_id`: give it instead of a URL in `image_url`, `video_url`, `thumbnail_url` or a
    carousel item. Uploads are yours alone; one no post used is deleted after 7 days, and one a post publishes
    is deleted then, unless `keep` is true."""
    storage = ctx.uploads
    received = await receive(request, storage.staging)
    try:
        checked = await check(received.path, received.size)
        upload = service.new_upload(
            service.new_upload_id(),
            user.id,
            checked,
            size=received.size,
            filename=received.filename,
            keep=received.keep,
            ttl=ctx.settings.upload_ttl_seconds,
        )
        await storage.put(upload.storage_key, received.path, upload.content_type)
    finally:
        await asyncio.to_thread(received.path.unlink, missing_ok=True)
    try:
        session.add(upload)
        await session.commit()
    except BaseException:
        # No row names the file: it must not outlive the failed request.
        await storage.delete(upload.storage_key)
        raise
    return upload_out(upload, checked.warnings)


@router.get(
    "/uploads/{upload_id}",
    summary="Get an upload",
    response_model=UploadOut,
    responses=error_responses(401, 404),
)
async def get_upload(session: SessionDep, user: CurrentUser, upload_id: UploadId) -> UploadOut:
    """An upload of yours that has not expired (another user's answers 404)."""
    return upload_out(await _owned(session, user, upload_id))


@router.delete(
    "/uploads/{upload_id}",
    summary="Delete an upload",
    response_model=UploadDeleted,
    responses=error_responses(401, 404, 409),
)
async def delete_upload(session: SessionDep, ctx: ContextDep, user: CurrentUser, upload_id: UploadId) -> UploadDeleted:
    """Deletes the file now; refused (409) while a post that has not finished publishing uses it."""
    upload = await _owned(session, user, upload_id)
    posts = await service.in_use_by(session, upload.id)
    if posts:
        raise Conflict(
            f"Upload {upload.id} is used by post {posts[0]}, which has not finished publishing",
            code="upload_in_use",
            posts=posts,
        )
    await service.remove(session, [upload.id])
    await session.commit()
    await ctx.uploads.delete(upload.storage_key)
    return UploadDeleted(upload_id=upload.id)


@files_router.get(
    "/uploads/{key}",
    summary="An uploaded file, for Instagram to fetch",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "video/mp4": {}}, "description": "The file (Range requests work)"},
        404: {"description": "Unknown, gone, or a signature that does not match or has expired"},
    },
)
async def serve_upload(
    ctx: ContextDep,
    key: Annotated[str, Path(max_length=80)],
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    """Serves a file of local storage to whoever holds its signed URL (Instagram, while it processes the post);
    the URLs last UPLOAD_URL_TTL_SECONDS. With S3 storage Instagram fetches presigned bucket URLs instead."""
    storage = ctx.uploads
    try:
        signing.checked_key(key)
    except ValueError:
        raise NotFound("Media not found", code="media_not_found") from None
    valid = signing.valid(ctx.settings, key, expires, signature)
    if not valid or not isinstance(storage, LocalStorage) or not await storage.exists(key):
        raise NotFound("Media not found", code="media_not_found")
    content_type = {"jpg": "image/jpeg", "png": "image/png", "mp4": "video/mp4", "mov": "video/quicktime"}
    return FileResponse(
        storage.path(key),
        media_type=content_type[key.rsplit(".", 1)[1]],
        headers={"Cache-Control": "private, max-age=600", "X-Content-Type-Options": "nosniff"},
    )
