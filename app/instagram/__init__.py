"""Async client for the Instagram Platform API (Instagram API with Instagram Login).

A standalone library: nothing here imports from the rest of `app/`. See docs/instagram-client.md.
"""

from app.instagram.client import InstagramClient
from app.instagram.comments import object_missing
from app.instagram.config import InstagramConfig
from app.instagram.errors import (
    BadRequest,
    ContainerNotFound,
    ContainerNotReady,
    InstagramError,
    InstagramUnavailable,
    MediaDownloadFailed,
    MediaRejected,
    OAuthError,
    PermissionDenied,
    PublishBlocked,
    PublishingQuotaExceeded,
    RateLimited,
    RetrySoon,
    TokenInvalid,
    TransientError,
    UnexpectedResponse,
    classify_error,
)
from app.instagram.metrics import DEPRECATED_METRICS, MEDIA_INSIGHT_METRICS, media_insight_metrics
from app.instagram.models import (
    CommentMedia,
    CommentPage,
    ContainerStatus,
    ContainerStatusCode,
    InstagramComment,
    InstagramMedia,
    InstagramProfile,
    LongLivedToken,
    MediaPage,
    PublishingLimit,
    ShortLivedToken,
)
from app.instagram.publishing import GraduationStrategy, UserTag
from app.instagram.retry import RetryMode, RetryPolicy

__all__ = [
    "DEPRECATED_METRICS",
    "MEDIA_INSIGHT_METRICS",
    "BadRequest",
    "CommentMedia",
    "CommentPage",
    "ContainerNotFound",
    "ContainerNotReady",
    "ContainerStatus",
    "ContainerStatusCode",
    "GraduationStrategy",
    "InstagramClient",
    "InstagramComment",
    "InstagramConfig",
    "InstagramError",
    "InstagramMedia",
    "InstagramProfile",
    "InstagramUnavailable",
    "LongLivedToken",
    "MediaDownloadFailed",
    "MediaPage",
    "MediaRejected",
    "OAuthError",
    "PermissionDenied",
    "PublishBlocked",
    "PublishingLimit",
    "PublishingQuotaExceeded",
    "RateLimited",
    "RetryMode",
    "RetryPolicy",
    "RetrySoon",
    "ShortLivedToken",
    "TokenInvalid",
    "TransientError",
    "UnexpectedResponse",
    "UserTag",
    "classify_error",
    "media_insight_metrics",
    "object_missing",
]
