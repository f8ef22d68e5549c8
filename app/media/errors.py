"""The one error of media checks: what is wrong with a client's media, in words fit for the answer."""

from __future__ import annotations


class MediaInvalid(Exception):
    """The media cannot be published; the message is the answer's `error`."""
