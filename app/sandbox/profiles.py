"""Deterministic accounts and seeded media: the same username always gives the same profile and ids."""

from __future__ import annotations

import hashlib
import re
import string
from datetime import datetime, timedelta

from app.sandbox.models import Media, MediaType, ProductType, User

_SHORTCODE_ALPHABET = string.ascii_letters + string.digits + "-_"

_CAPTIONS = (
    "Golden hour on the rooftop ☀️ #sunset #cityviews",
    "New week, new goals. What are you working on? #mondaymotivation",
    "Behind the scenes of our latest shoot 🎬 #bts #creative",
    "Coffee first, then everything else ☕ #morningroutine",
    "Three things we learned this month — swipe through ➡️ #tips #smallbusiness",
    "Weekend mood 🌊 #travel #weekendvibes",
    "Thank you for 10k reasons to keep going 🙏 #community",
)


def digest_int(*parts: object) -> int:
    """A stable 256-bit integer from the parts (not a secret: only for synthetic data)."""
    return int.from_bytes(hashlib.sha256("|".join(str(p) for p in parts).encode()).digest(), "big")


def fraction(*parts: object) -> float:
    """A stable number in [0, 1) from the parts."""
    return (digest_int(*parts) % 1_000_000) / 1_000_000


def ig_user_id(username: str) -> str:
    """The Instagram professional account id (`user_id`), 17 digits like `1784140…`."""
    return f"1784140{digest_int('ig-user', username) % 10**10:010d}"


def app_scoped_id(username: str) -> str:
    """The app-scoped id (`id` on /me), 17 digits."""
    return f"2{digest_int('app-scoped', username) % 10**16:016d}"


def display_name(username: str) -> str:
    """`john_doe` → `John Doe`."""
    words = [w for w in username.replace(".", "_").split("_") if w]
    return " ".join(w.capitalize() for w in words) or username


def shortcode(media_id: str) -> str:
    """An 11-character permalink code derived from the media id."""
    value = digest_int("shortcode", media_id)
    chars = []
    for _ in range(11):
        value, index = divmod(value, len(_SHORTCODE_ALPHABET))
        chars.append(_SHORTCODE_ALPHABET[index])
    return "".join(chars)


def seeded_media_id(username: str, index: int, child: int | None = None) -> str:
    """Ids of seeded media, stable per username (17 digits like `179…`)."""
    return f"179{digest_int('seed-media', username, index, child) % 10**14:014d}"


# `_followers42` in a username makes an account with that many followers (a small account, say).
_FOLLOWERS_HINT = re.compile(r"_followers(\d{1,9})(?![0-9])")


def followers_of(username: str) -> int:
    """Followers 100–50 000 from the username's hash, or the number a `_followersN` hint gives."""
    hint = _FOLLOWERS_HINT.search(username)
    if hint:
        return int(hint.group(1))
    return 100 + digest_int("followers", username) % 49_901


def build_user(username: str, now: datetime) -> User:
    """The business account behind a username: followers 100–50 000 (or `_followersN`), follows 50–2 000."""
    name = display_name(username)
    return User(
        ig_id=ig_user_id(username),
        app_scoped_id=app_scoped_id(username),
        username=username,
        name=name,
        biography=f"{name} · sandbox business account\nPosts here are synthetic ✨",
        website=f"https://{username.replace('_', '-').replace('.', '-')}.example.com",
        followers_count=followers_of(username),
        follows_count=50 + digest_int("follows", username) % 1_951,
        created_at=now,
    )


def seed_media(user: User, now: datetime) -> list[Media]:
    """3–6 media, 1–30 days old: feed images, reels and carousels (children included, parents first)."""
    count = 3 + digest_int("seed-count", user.username) % 4
    kinds: list[tuple[MediaType, ProductType]] = [
        ("IMAGE", "FEED"),
        ("VIDEO", "REELS"),
        ("CAROUSEL_ALBUM", "FEED"),
    ]
    days = sorted({1 + digest_int("seed-age", user.username, i) % 30 for i in range(count * 2)}, reverse=True)
    while len(days) < count:  # rare collisions: fill with unused ages
        days.append(next(d for d in range(1, 31) if d not in days))
    records: list[Media] = []
    for index in range(count):
        media_type, product_type = kinds[(index + digest_int("seed-kind", user.username)) % 3]
        age = timedelta(days=days[index], minutes=digest_int("seed-minute", user.username, index) % 600)
        timestamp = (now - age).replace(microsecond=0)
        media_id = seeded_media_id(user.username, index)
        width, height = (1080, 1920) if product_type == "REELS" else (1080, 1350 if index % 2 else 1080)
        media = Media(
            id=media_id,
            owner_id=user.ig_id,
            username=user.username,
            media_type=media_type,
            product_type=product_type,
            timestamp=timestamp,
            shortcode=shortcode(media_id),
            caption=_CAPTIONS[(digest_int("seed-caption", user.username) + index) % len(_CAPTIONS)],
            width=width,
            height=height,
            duration_seconds=15.0 + digest_int("seed-duration", media_id) % 45 if media_type == "VIDEO" else None,
            is_shared_to_feed=True if product_type == "REELS" else None,
        )
        records.append(media)
        if media_type == "CAROUSEL_ALBUM":
            for child in range(2 + digest_int("seed-children", media_id) % 2):
                child_id = seeded_media_id(user.username, index, child)
                media.children.append(child_id)
                records.append(
                    Media(
                        id=child_id,
                        owner_id=user.ig_id,
                        username=user.username,
                        media_type="IMAGE",
                        product_type="FEED",
                        timestamp=timestamp,
                        shortcode=shortcode(child_id),
                        width=width,
                        height=height,
                        parent_id=media_id,
                    )
                )
    return records
