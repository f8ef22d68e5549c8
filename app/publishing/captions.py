"""Captions as Instagram takes them, and the URL and hashtag fields of the publishing requests."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")


_NOT_A_URL = "must be an absolute http or https URL, or the upload_id of a file uploaded to POST /uploads"
UPLOAD_REF = re.compile(r"upl_[A-Za-z0-9_-]{32}")


def is_upload_ref(value: str) -> bool:
    """True when a media field names an upload (`upl_…`) rather than a URL."""
    return UPLOAD_REF.fullmatch(value) is not None


def _http_url(value: str) -> str:
    value = value.strip()
    if is_upload_ref(value):
        return value
    if not re.match(r"^https?://[^\s/?#]+", value, re.IGNORECASE):
        raise ValueError(_NOT_A_URL)
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port out of range raises here
    except ValueError as exc:
        raise ValueError(_NOT_A_URL) from exc
    if not parts.hostname:
        raise ValueError(_NOT_A_URL)
    return value


def _hashtag(value: str) -> str:
    tag = value.strip().lstrip("#")
    if not tag or not re.fullmatch(r"\w+", tag):
        raise ValueError("hashtags must be words without spaces or punctuation (the # is optional)")
    return tag


MediaUrl = Annotated[
    str,
    Field(max_length=2048, description="An http(s) URL, or the `upload_id` of a file uploaded to POST /uploads"),
    AfterValidator(_http_url),
]
Hashtag = Annotated[str, Field(max_length=100), AfterValidator(_hashtag)]


def compose_caption(caption: str | None, hashtags: list[str]) -> str | None:
    """The caption Instagram receives: the text, then the hashtags on their own paragraph."""
    tags = " ".join(f"#{tag}" for tag in dict.fromkeys(hashtags))
    parts = [p for p in ((caption or "").strip(), tags) if p]
    return "\n\n".join(parts) or None


def check_caption(caption: str | None) -> None:
    """Instagram's caption limits, checked before anything is created."""
    if caption is None:
        return
    if len(caption) > MAX_CAPTION:
        raise ValueError(f"caption with hashtags is {len(caption)} characters; Instagram allows {MAX_CAPTION}")
    hashtags = len(_HASHTAG.findall(caption))
    if hashtags > MAX_HASHTAGS:
        raise ValueError(f"caption has {hashtags} hashtags; Instagram allows {MAX_HASHTAGS}")
    mentions = len(_MENTION.findall(caption))
    if mentions > MAX_MENTIONS:
        raise ValueError(f"caption has {mentions} @mentions; Instagram allows {MAX_MENTIONS}")
