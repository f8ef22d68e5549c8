"""Every table, imported in one place for Alembic and the tests."""

from app.accounts.models import Account, AccountStatus, OAuthStateUse
from app.comments.models import Comment, Mention
from app.db import Base
from app.events.models import Event, WebhookDelivery, WebhookEndpoint
from app.inbound.models import DataDeletionRequest, InboundDelivery
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.publishing.models import IdempotencyKey, MediaAsset, Post, PostAsset, PostKind, PostStatus
from app.uploads.models import PostUpload, Upload

__all__ = [
    "Account",
    "AccountStatus",
    "AnalyticsSnapshot",
    "Base",
    "Comment",
    "DataDeletionRequest",
    "Event",
    "IdempotencyKey",
    "InboundDelivery",
    "MediaAsset",
    "Mention",
    "OAuthStateUse",
    "Post",
    "PostAnalytics",
    "PostAsset",
    "PostKind",
    "PostStatus",
    "PostUpload",
    "Upload",
    "WebhookDelivery",
    "WebhookEndpoint",
]
