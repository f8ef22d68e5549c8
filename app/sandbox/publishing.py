"""Content publishing: containers and their state machine, `media_publish`, the publishing quota.

Container states: IN_PROGRESS →(processing time) FINISHED | ERROR; FINISHED →(media_publish) PUBLISHED; any
state but PUBLISHED → EXPIRED 24 h after creation. States are computed from the sandbox clock when read, so
moving the clock forward finishes processing and expires containers.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image

from app.media.video import VideoKind, VideoUnreadable, probe_video, video_problem
from app.sandbox.calls import GraphContext
from app.sandbox.container_options import check_options
from app.sandbox.errors import (
    GraphError,
    invalid_parameter,
    missing_parameter,
    nonexisting_field,
    unsupported_request,
)
from app.sandbox.models import (
    ITEM_KINDS,
    VIDEO_KINDS,
    Container,
    ContainerKind,
    Media,
    MediaType,
    ProductType,
    PublishedEntry,
    StatusCode,
    User,
)
from app.sandbox.params import FieldSpec, parse_bool, parse_fields, parse_int, parse_list
from app.sandbox.profiles import shortcode
from app.sandbox.reads import graph_time, media_view, own_user, owned_media
from app.sandbox.state import Sandbox

MAX_IMAGE_BYTES = 8 * 1024 * 1024
VIDEO_HEAD_BYTES = 2 * 1024 * 1024
MIN_ASPECT_RATIO = 4 / 5
MAX_ASPECT_RATIO = 1.91
CAPTION_MAX_CHARS = 2200
CAPTION_MAX_HASHTAGS = 30
CAPTION_MAX_MENTIONS = 20
ALT_TEXT_MAX_CHARS = 1000
CAROUSEL_MIN_CHILDREN = 2
CAROUSEL_MAX_CHILDREN = 10
CONTAINER_LIFETIME = timedelta(hours=24)
QUOTA_WINDOW = timedelta(hours=24)
UNSUPPORTED_VIDEO_SUBCODE = 2207026
# Which of Instagram's documented video rules (app/media/video.py) each kind of container applies.
VIDEO_RULES: dict[ContainerKind, VideoKind] = {
    "REELS": VideoKind.REEL,
    "STORY_VIDEO": VideoKind.STORY,
    "CAROUSEL_VIDEO_ITEM": VideoKind.CAROUSEL,
}
STATUS_TEXT: dict[StatusCode, str] = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media was not published within 24 hours of its creation.",
}
CONTAINER_FIELDS = frozenset({"id", "status_code", "status"})
PUBLISH_KIND: dict[ContainerKind, str] = {
    "IMAGE": "IMAGE",
    "STORY_IMAGE": "STORIES",
    "STORY_VIDEO": "STORIES",
    "REELS": "REELS",
    "CAROUSEL": "CAROUSEL",
    "CAROUSEL_IMAGE_ITEM": "CAROUSEL_ITEM",
    "CAROUSEL_VIDEO_ITEM": "CAROUSEL_ITEM",
}

_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@[\w.]+")


# --- errors ---------------------------------------------------------------------------------------


def _media_error(message: str, code: int, subcode: int, title: str, user_msg: str) -> GraphError:
    return GraphError(message, code=code, subcode=subcode, user_title=title, user_msg=user_msg)


def image_too_large() -> GraphError:
    return _media_error(
        "The image is too large to download. It should be less than 8 MiB.",
        36000,
        2207004,
        "Image Too Large",
        "The image must be smaller than 8 MiB.",
    )


def image_format_unsupported() -> GraphError:
    return _media_error(
        "The image format is not supported. Only JPEG images can be published.",
        36001,
        2207005,
        "Unsupported Image Format",
        "Use a JPEG image.",
    )


def aspect_ratio_unsupported(width: int, height: int) -> GraphError:
    return _media_error(
        f"The submitted image with aspect ratio ('{width}/{height}') cannot be published. Please submit an "
        "image with a valid aspect ratio.",
        36003,
        2207009,
        "Invalid Aspect Ratio",
        "The aspect ratio must be between 4:5 and 1.91:1.",
    )


def caption_too_long() -> GraphError:
    return _media_error(
        f"The caption is too long: at most {CAPTION_MAX_CHARS} characters and {CAPTION_MAX_HASHTAGS} hashtags.",
        36004,
        2207010,
        "Caption Too Long",
        "Shorten the caption or use fewer hashtags.",
    )


def too_many_mentions() -> GraphError:
    return GraphError(
        f"(#100) Cannot use more than {CAPTION_MAX_MENTIONS} @ tags per created media.",
        code=100,
        subcode=2207040,
        user_title="Too Many Tags",
        user_msg="Mention at most 20 accounts.",
    )


def media_type_unsupported(message: str) -> GraphError:
    return GraphError(f"(#100) {message}", code=100, subcode=2207023, user_title="Unsupported Media Type")


def carousel_invalid(reason: str) -> GraphError:
    return GraphError(
        f"(#100) Carousel validation failed: {reason}",
        code=100,
        subcode=2207028,
        user_title="Invalid Carousel",
    )


def container_not_found(message: str = "The media container does not exist or has expired.") -> GraphError:
    return GraphError(message, code=24, subcode=2207008, user_title="Media Container Not Available")


# --- checks ---------------------------------------------------------------------------------------


def check_caption(caption: str | None) -> None:
    if not caption:
        return
    if len(caption) > CAPTION_MAX_CHARS or len(_HASHTAG.findall(caption)) > CAPTION_MAX_HASHTAGS:
        raise caption_too_long()
    if len(_MENTION.findall(caption)) > CAPTION_MAX_MENTIONS:
        raise too_many_mentions()


def jpeg_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) of a JPEG (MPO and everything else: None)."""
    if not content.startswith(b"\xff\xd8\xff"):
        return None
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format != "JPEG":
                return None
            return image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


async def check_image(sandbox: Sandbox, url: str, *, check_aspect: bool) -> tuple[int, int]:
    """Fetch the image as Instagram would and apply its rules: JPEG, ≤ 8 MiB, 4:5…1.91:1 when asked."""
    fetched = await sandbox.fetcher.fetch(url, MAX_IMAGE_BYTES)
    if fetched.exceeded:
        raise image_too_large()
    size = jpeg_size(fetched.content)
    if size is None:
        raise image_format_unsupported()
    width, height = size
    if check_aspect and not (MIN_ASPECT_RATIO - 1e-3 <= width / max(1, height) <= MAX_ASPECT_RATIO + 1e-3):
        raise aspect_ratio_unsupported(width, height)
    return size


@dataclass(frozen=True, slots=True)
class VideoCheck:
    """What a probe of a video's first bytes tells, and the subcode the container will fail with (if any)."""

    width: int | None
    height: int | None
    duration_seconds: float | None
    failure_subcode: int | None


async def sniff_remote_video(sandbox: Sandbox, url: str, kind: ContainerKind) -> VideoCheck:
    """Probe the video's first bytes with FFmpeg and apply Instagram's rules for the kind: a video breaking one
    makes a container that ends in ERROR (2207026), as Instagram's does after processing."""
    fetched = await sandbox.fetcher.fetch(url, VIDEO_HEAD_BYTES)
    try:
        probe = await asyncio.to_thread(probe_video, fetched.content)
    except VideoUnreadable:
        return VideoCheck(None, None, None, UNSUPPORTED_VIDEO_SUBCODE)
    broken = video_problem(probe, VIDEO_RULES[kind]) is not None
    return VideoCheck(probe.width, probe.height, probe.duration_seconds, UNSUPPORTED_VIDEO_SUBCODE if broken else None)


# --- state ----------------------------------------------------------------------------------------


def container_status(sandbox: Sandbox, container: Container) -> tuple[StatusCode, str]:
    """The container's `status_code` and `status` now (sandbox clock)."""
    if container.published_media_id is not None:
        return "PUBLISHED", STATUS_TEXT["PUBLISHED"]
    now = sandbox.now()
    if now >= container.created_at + CONTAINER_LIFETIME:
        return "EXPIRED", STATUS_TEXT["EXPIRED"]
    if container.kind == "CAROUSEL":
        in_progress = False
        for child_id in container.children:
            child = sandbox.world.containers[child_id]
            code, _ = container_status(sandbox, child)
            if code in {"ERROR", "EXPIRED"}:
                subcode = child.failure_subcode or 2207001
                return "ERROR", f"Error: Media upload has failed with error code {subcode}"
            in_progress = in_progress or code == "IN_PROGRESS"
        if in_progress:
            return "IN_PROGRESS", STATUS_TEXT["IN_PROGRESS"]
        return "FINISHED", STATUS_TEXT["FINISHED"]
    if now < container.ready_at:
        return "IN_PROGRESS", STATUS_TEXT["IN_PROGRESS"]
    if container.failure_subcode is not None:
        return "ERROR", f"Error: Media upload has failed with error code {container.failure_subcode}"
    return "FINISHED", STATUS_TEXT["FINISHED"]


def container_view(sandbox: Sandbox, container: Container, fields: list[FieldSpec] | None) -> dict[str, Any]:
    """A container node (`id`, `status_code`, `status`); only `id` without `fields`."""
    status_code, status = container_status(sandbox, container)
    values: dict[str, Any] = {}
    for spec in fields or []:
        if spec.name not in CONTAINER_FIELDS:
            raise nonexisting_field(spec.name, "ShadowIGMediaBuilder")
        values[spec.name] = {"id": container.id, "status_code": status_code, "status": status}[spec.name]
    values.setdefault("id", container.id)
    return values


def _recent(times: list[datetime], now: datetime, window: timedelta) -> list[datetime]:
    return [t for t in times if t > now - window]


def quota_usage(sandbox: Sandbox, user: User, since: datetime | None = None) -> int:
    """Successful publishes in the rolling 24 hours (a carousel counts once)."""
    now = sandbox.now()
    times = _recent(sandbox.world.publish_times.get(user.ig_id, []), now, QUOTA_WINDOW)
    if since is not None:
        times = [t for t in times if t >= since]
    return len(times)


# --- handlers -------------------------------------------------------------------------------------


def create_variant(params: dict[str, str]) -> str:
    """The latency variant of a container creation (`media_create:REELS`, ...)."""
    media_type = params.get("media_type", "").upper()
    if params.get("is_carousel_item", "").lower() in {"true", "1"}:
        return "CAROUSEL_ITEM"
    return media_type or "IMAGE"


def publish_variant(sandbox: Sandbox, params: dict[str, str]) -> str | None:
    """The latency variant of a publish: the kind of the container being published."""
    container = sandbox.world.containers.get(params.get("creation_id", ""))
    return PUBLISH_KIND[container.kind] if container is not None else None


def _container_kind(params: dict[str, str]) -> ContainerKind:
    media_type = params.get("media_type", "").strip().upper()
    if parse_bool(params.get("is_carousel_item"), "is_carousel_item", False):
        if media_type in {"", "IMAGE"}:
            return "CAROUSEL_IMAGE_ITEM"
        if media_type == "VIDEO":
            return "CAROUSEL_VIDEO_ITEM"
        raise media_type_unsupported(
            f"The media type {media_type} is not supported for carousel items: use IMAGE (default) or VIDEO."
        )
    match media_type:
        case "" | "IMAGE":
            return "IMAGE"
        case "STORIES":
            return "STORY_VIDEO" if params.get("video_url") and not params.get("image_url") else "STORY_IMAGE"
        case "REELS":
            return "REELS"
        case "CAROUSEL":
            return "CAROUSEL"
        case "VIDEO":
            raise media_type_unsupported(
                "The VIDEO media type is no longer supported for feed videos. Use media_type=REELS to publish a "
                "video (VIDEO remains valid for carousel items only)."
            )
        case _:
            raise media_type_unsupported(
                f"The media type {media_type} is not supported. Use IMAGE (default), REELS, STORIES or CAROUSEL."
            )


def _check_container_limit(sandbox: Sandbox, user: User, now: datetime) -> None:
    times = sandbox.world.container_times.get(user.ig_id)
    while times and times[0] <= now - QUOTA_WINDOW:
        times.popleft()
    limit = sandbox.knobs.container_limit
    if times is not None and len(times) >= limit:
        raise GraphError(
            f"(#4) Application request limit reached: this account created {limit} media containers in the last "
            "24 hours.",
            code=4,
            user_title="Too Many Containers",
            user_msg=f"At most {limit} containers can be created per account in a rolling 24 hours.",
        )


async def create_container(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{ig-user-id}/media`: validate, fetch the media as Instagram does, and create a container."""
    sandbox, params = ctx.sandbox, ctx.params
    user = own_user(ctx)
    if params.get("upload_type"):
        raise invalid_parameter(
            "upload_type=resumable is not supported by this sandbox: pass image_url or video_url instead"
        )
    kind = _container_kind(params)
    kept = check_options(params, kind)
    now = sandbox.now()
    _check_container_limit(sandbox, user, now)
    template = Container(id="", owner_id=user.ig_id, kind=kind, created_at=now, ready_at=now, params=kept)
    failure: int | None = None
    if kind in {"IMAGE", "REELS", "CAROUSEL"}:
        template.caption = params.get("caption") or None
        check_caption(template.caption)
    if kind in {"IMAGE", "CAROUSEL_IMAGE_ITEM"} and params.get("alt_text"):
        if len(params["alt_text"]) > ALT_TEXT_MAX_CHARS:
            raise invalid_parameter(f"Param alt_text must be at most {ALT_TEXT_MAX_CHARS} characters long")
        template.alt_text = params["alt_text"]
    if kind in {"IMAGE", "CAROUSEL_IMAGE_ITEM", "STORY_IMAGE"}:
        if not params.get("image_url"):
            raise missing_parameter("image_url" if kind != "STORY_IMAGE" else "image_url or video_url")
        template.width, template.height = await check_image(
            sandbox, params["image_url"], check_aspect=kind != "STORY_IMAGE"
        )
    elif kind in VIDEO_KINDS:
        if not params.get("video_url"):
            raise missing_parameter("video_url")
        video = await sniff_remote_video(sandbox, params["video_url"], kind)
        template.width, template.height = video.width, video.height
        template.duration_seconds, failure = video.duration_seconds, video.failure_subcode
        if kind == "REELS":
            template.share_to_feed = parse_bool(params.get("share_to_feed"), "share_to_feed", True)
            if params.get("cover_url"):
                await check_image(sandbox, params["cover_url"], check_aspect=False)
            offset = parse_int(params.get("thumb_offset"), "thumb_offset", default=0, minimum=0)
            if template.duration_seconds is not None and offset > template.duration_seconds * 1000:
                raise GraphError(
                    "The thumb_offset is out of range: it must be within the video's duration (milliseconds).",
                    code=1,
                    subcode=2207057,
                    user_title="Invalid Thumbnail Offset",
                )
    else:
        template.children = _check_children(sandbox, user, params.get("children"))
    if ctx.fault is not None and ctx.fault.kind == "container_error":
        failure = ctx.fault.subcode or 2207001
    # From here to the return there is no await: the limit check and the insert are one step.
    now = sandbox.now()
    _check_container_limit(sandbox, user, now)
    template.id = sandbox.world.new_id("178")
    template.created_at = now
    processing = sandbox.knobs.video_processing_seconds if kind in VIDEO_KINDS else 0.0
    template.ready_at = now + timedelta(seconds=processing)
    template.failure_subcode = failure
    sandbox.world.containers[template.id] = template
    sandbox.world.container_times.setdefault(user.ig_id, deque()).append(now)
    return {"id": template.id}


def _check_children(sandbox: Sandbox, user: User, raw: str | None) -> list[str]:
    children = parse_list(raw)
    if not children:
        raise carousel_invalid("the children parameter is required (2 to 10 carousel item container ids)")
    if not CAROUSEL_MIN_CHILDREN <= len(children) <= CAROUSEL_MAX_CHILDREN:
        raise carousel_invalid(f"a carousel needs 2 to 10 children, got {len(children)}")
    if len(set(children)) != len(children):
        raise carousel_invalid("the same child container appears twice")
    for child_id in children:
        child = sandbox.world.containers.get(child_id)
        if child is None or child.owner_id != user.ig_id:
            raise carousel_invalid(f"child {child_id} is not a media container of this account")
        if child.kind == "REELS":
            raise carousel_invalid(f"child {child_id} is a reel; reels can't be carousel items")
        if child.kind not in ITEM_KINDS:
            raise carousel_invalid(f"child {child_id} was not created with is_carousel_item=true")
        if child.published_media_id is not None:
            raise carousel_invalid(f"child {child_id} has already been published")
    return children


async def get_object(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{id}`: a container (`id,status_code,status`) or a media object, owned by the token's user."""
    node = ctx.node_id or ""
    fields = parse_fields(ctx.params.get("fields"))
    container = ctx.sandbox.world.containers.get(node)
    if container is not None:
        if container.owner_id != ctx.user.ig_id:
            raise unsupported_request(ctx.call.method, node)
        return container_view(ctx.sandbox, container, fields)
    return media_view(ctx.sandbox, owned_media(ctx), fields)


def _publish_checks(sandbox: Sandbox, user: User, container: Container | None) -> Container:
    if container is None or container.owner_id != user.ig_id:
        raise container_not_found()
    if container.kind in ITEM_KINDS:
        raise invalid_parameter(
            "A carousel item container can't be published on its own: create a CAROUSEL container with "
            "children=<ids> and publish that"
        )
    status, text = container_status(sandbox, container)
    match status:
        case "PUBLISHED":
            raise container_not_found("The media container has already been published")
        case "EXPIRED":
            raise container_not_found("The media container has expired: it was not published within 24 hours")
        case "ERROR":
            raise GraphError(
                f"The media container can't be published: its processing failed ({text}).",
                code=24,
                subcode=2207006,
                user_title="Media Not Available",
                user_msg="Create a new container with a supported media file.",
            )
        case "IN_PROGRESS":
            raise GraphError(
                "The media is not ready for publishing, please wait for a moment",
                code=9007,
                subcode=2207027,
                user_title="Media Not Ready",
                user_msg="The media is still being processed; publish it once its status_code is FINISHED.",
            )
    if quota_usage(sandbox, user) >= sandbox.knobs.quota_total:
        raise GraphError(
            "The user has reached the maximum number of posts that can be published through API in 24 hours",
            code=9,
            subcode=2207042,
            user_title="Publishing Limit Reached",
            user_msg=f"At most {sandbox.knobs.quota_total} posts can be published through the API in 24 hours.",
        )
    return container


_PUBLISHED_AS: dict[ContainerKind, tuple[MediaType, ProductType]] = {
    "IMAGE": ("IMAGE", "FEED"),
    "STORY_IMAGE": ("IMAGE", "STORY"),
    "STORY_VIDEO": ("VIDEO", "STORY"),
    "REELS": ("VIDEO", "REELS"),
    "CAROUSEL": ("CAROUSEL_ALBUM", "FEED"),
    "CAROUSEL_IMAGE_ITEM": ("IMAGE", "FEED"),
    "CAROUSEL_VIDEO_ITEM": ("VIDEO", "FEED"),
}


def _media_from(sandbox: Sandbox, user: User, container: Container, now: datetime, parent: str | None) -> Media:
    media_type, product_type = _PUBLISHED_AS[container.kind]
    media_id = sandbox.world.new_id("179")
    default_size = (1080, 1920) if media_type == "VIDEO" else (1080, 1080)
    media = Media(
        id=media_id,
        owner_id=user.ig_id,
        username=user.username,
        media_type=media_type,
        product_type=product_type,
        timestamp=now,  # full precision: posts made within one second keep their order
        shortcode=shortcode(media_id),
        caption=container.caption,
        alt_text=container.alt_text,
        width=container.width or default_size[0],
        height=container.height or default_size[1],
        duration_seconds=container.duration_seconds if media_type == "VIDEO" else None,
        is_shared_to_feed=container.share_to_feed if product_type == "REELS" else None,
        parent_id=parent,
        container_id=container.id,
    )
    sandbox.world.add_media(media)
    container.published_media_id = media_id
    container.published_at = now
    return media


async def publish(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{ig-user-id}/media_publish`: publish a FINISHED container, once.

    No await from the checks to the state change: two concurrent publishes of one container can't both pass.
    """
    sandbox = ctx.sandbox
    user = own_user(ctx)
    creation_id = ctx.params.get("creation_id", "").strip()
    if not creation_id:
        raise missing_parameter("creation_id")
    container = _publish_checks(sandbox, user, sandbox.world.containers.get(creation_id))
    now = sandbox.now()
    media = _media_from(sandbox, user, container, now, None)
    for child_id in container.children:
        child = _media_from(sandbox, user, sandbox.world.containers[child_id], now, media.id)
        media.children.append(child.id)
    sandbox.world.publish_times.setdefault(user.ig_id, []).append(now)
    sandbox.world.published.append(
        PublishedEntry(
            media_id=media.id,
            ig_user_id=user.ig_id,
            username=user.username,
            container_id=container.id,
            media_type=media.media_type,
            media_product_type=media.product_type,
            caption=media.caption,
            timestamp=graph_time(media.timestamp),
            params=dict(container.params),
            children=[dict(sandbox.world.containers[child].params) for child in container.children],
        )
    )
    return {"id": media.id}


async def publishing_limit(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-user-id}/content_publishing_limit`: `quota_usage` (default field) and `config`."""
    sandbox = ctx.sandbox
    user = own_user(ctx)
    fields = parse_fields(ctx.params.get("fields")) or [FieldSpec("quota_usage")]
    since: datetime | None = None
    if ctx.params.get("since"):
        try:
            since = datetime.fromtimestamp(float(ctx.params["since"]), sandbox.now().tzinfo)
        except (ValueError, OverflowError, OSError) as exc:
            raise invalid_parameter("Param since must be a Unix timestamp") from exc
    entry: dict[str, Any] = {}
    for spec in fields:
        if spec.name == "quota_usage":
            entry["quota_usage"] = quota_usage(sandbox, user, since)
        elif spec.name == "config":
            entry["config"] = {"quota_total": sandbox.knobs.quota_total, "quota_duration": 86400}
        else:
            raise nonexisting_field(spec.name, "ContentPublishingLimit")
    return {"data": [entry]}
