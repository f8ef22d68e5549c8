"""Outgoing events: the transactional outbox, signed webhooks (Standard Webhooks) and the events feed.

Other domains call `record(session, user_id=..., type=..., data=...)` in their own transaction, and nothing
else (`complete()` fills in a held event, such as a post's permalink learnt right after it is published).
Nothing here calls Instagram.
"""

from app.events.outbox import complete, record

__all__ = ["complete", "record"]
