"""Uploads where publishing takes a URL: found for their owner before anything is created, read or re-checked
for the kind of post (a story video's 60 seconds), and handed to Instagram as short-lived signed URLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.errors import NotFound
from app.media.errors import MediaInvalid
from app.media.video import VideoKind, VideoProbe, video_problem
from app.publishing.captions import is_upload_ref
from app.publishing.media_items import MediaItem, MediaLinks, MediaNeed, VideoItem
from app.uploads import service as uploads_service
from app.uploads.models import Upload, UploadKind
from app.uploads.storage import Storage


@dataclass(frozen=True)
class UploadSource:
    """The request's uploads, by id, and the storage holding their files."""

    storage: Storage | None = None
    uploads: Mapping[str, Upload] = field(default_factory=dict)

    def _upload(self, upload_id: str, kind: UploadKind, field_name: str) -> tuple[Upload, Storage]:
        upload = self.uploads.get(upload_id)
        assert upload is not None and self.storage is not None, "uploads are found before they are prepared"
        if upload.kind != kind:
            raise MediaInvalid(f"{field_name} names an upload that is {'a video' if kind == 'image' else 'an image'}")
        return upload, self.storage

    async def image(self, upload_id: str, field_name: str) -> bytes:
        """The uploaded image's bytes (at most 8 MB), to prepare like a fetched one."""
        upload, storage = self._upload(upload_id, UploadKind.IMAGE, field_name)
        return await storage.read(upload.storage_key)

    def video(self, upload_id: str, field_name: str, kind: VideoKind) -> tuple[Upload, VideoProbe]:
        """The uploaded video and its probe, held to the rules of `kind` (raises MediaInvalid)."""
        upload, _ = self._upload(upload_id, UploadKind.VIDEO, field_name)
        assert upload.probe is not None
        probe = VideoProbe.from_json(dict(upload.probe))
        problem = video_problem(probe, kind, upload.size)
        if problem is not None:
            raise MediaInvalid(problem)
        return upload, probe


def referenced(needs: Sequence[MediaNeed]) -> list[str]:
    """The uploads the media name, in order, once each."""
    return list(dict.fromkeys(need.url for need in needs if is_upload_ref(need.url)))


async def find(session: AsyncSession, user_id: str, needs: Sequence[MediaNeed], storage: Storage) -> UploadSource:
    """The user's uploads the media name; 404 for one that is not theirs, unknown or expired."""
    ids = referenced(needs)
    if not ids:
        return UploadSource(storage)
    found = await uploads_service.owned_many(session, user_id, ids)
    missing = [upload_id for upload_id in ids if upload_id not in found]
    if missing:
        raise NotFound(f"Upload not found: {missing[0]}", code="upload_not_found")
    return UploadSource(storage, found)


async def media_links(ctx: AppContext, items: Sequence[MediaItem]) -> MediaLinks:
    """Where Instagram fetches the post's media now: prepared images on the public address, uploaded videos at a
    signed URL (presigned on S3) made for this call."""
    base_url = ctx.settings.public_base_url
    uploads = {
        item.upload_key: await ctx.uploads.signed_url(item.upload_key, base_url)
        for item in items
        if isinstance(item, VideoItem) and item.upload_key
    }
    return MediaLinks(base_url, uploads)
