"""The examples of the publishing requests, as OpenAPI shows them (the first is the one Swagger UI fills in)."""

from __future__ import annotations

from pydantic import JsonValue

POST_EXAMPLES: list[JsonValue] = [
    {
        "account_id": 1,
        "image_url": "https://example.com/product.jpg",
        "caption": "Check out this amazing product! 🚀",
        "hashtags": ["marketing", "instagood", "socialmedia"],
    },
    {
        "account_id": 1,
        "image_url": "https://example.com/team_1080x1350.jpg",
        "caption": "Launch day with our partners",
        "user_tags": [{"username": "jane_doe", "x": 0.5, "y": 0.8}],
        "location_id": "110843418940484",
        "collaborators": ["partner_brand"],
        "first_comment": "More hashtags here #launch #team",
        "fit": "crop",
    },
]

STORY_EXAMPLES: list[JsonValue] = [
    {
        "account_id": 1,
        "image_url": "https://example.com/story.jpg",
        "text": "Back in 5 minutes!",
    },
    {
        "account_id": 1,
        "image_url": "https://example.com/banner_1600x900.jpg",
        "user_tags": [{"username": "jane_doe"}],
        "fit": "pad",
        "pad_color": "#000000",
    },
]

REEL_EXAMPLES: list[JsonValue] = [
    {
        "account_id": 1,
        "video_url": "https://example.com/tutorial.mp4",
        "caption": "Quick tutorial! Check it out 👇 #tutorial #reels",
        "thumbnail_url": "https://example.com/thumbnail.jpg",
    },
    {
        "account_id": 1,
        "video_url": "https://example.com/tutorial.mp4",
        "caption": "Behind the scenes",
        "thumb_offset": 2500,
        "audio_name": "Studio session",
        "user_tags": [{"username": "jane_doe", "x": 0.3, "y": 0.6}],
        "collaborators": ["partner_brand"],
        "location_id": "110843418940484",
        "trial_params": {"graduation_strategy": "SS_PERFORMANCE"},
        "first_comment": "Full tutorial on our site",
        "first_comment_delay_seconds": 60,
    },
]

CAROUSEL_EXAMPLES: list[JsonValue] = [
    {
        "account_id": 1,
        "caption": "Three looks for autumn",
        "hashtags": ["fashion"],
        "items": [
            {"image_url": "https://example.com/look1.jpg", "alt_text": "A red coat"},
            {"image_url": "https://example.com/look2.jpg"},
            {"video_url": "https://example.com/look3.mp4"},
        ],
    }
]

BATCH_EXAMPLES: list[JsonValue] = [
    {
        "image_url": "https://example.com/launch.jpg",
        "caption": "We launched!",
        "hashtags": ["launch"],
    }
]
