"""The options of `POST /{ig-user-id}/media` beyond the media and the caption, checked as Meta documents them.

| parameter | kinds | form |
|---|---|---|
| `user_tags` | IMAGE, REELS, STORIES, carousel items | JSON array of `{username, x, y}` in 0–1 (stories: no x, y) |
| `collaborators` | IMAGE, REELS, CAROUSEL | JSON array of at most 3 usernames |
| `location_id` | IMAGE, REELS, CAROUSEL | the numeric id of a Page with a location |
| `audio_name` | REELS | text |
| `trial_params` | REELS | JSON object `{"graduation_strategy": "MANUAL" or "SS_PERFORMANCE"}` |

A parameter on a kind that does not take it is refused (code 100), as Instagram does, rather than ignored: a
client that sends it believes it has an effect. The parameters a container was created with are kept as
received and listed with what was published (`GET /sandbox/control/published`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.sandbox.errors import GraphError, invalid_parameter
from app.sandbox.models import ContainerKind

MAX_USER_TAGS = 20
MAX_COLLABORATORS = 3
GRADUATION_STRATEGIES = frozenset({"MANUAL", "SS_PERFORMANCE"})
_USERNAME = re.compile(r"[A-Za-z0-9._]{1,30}")
_LOCATION_ID = re.compile(r"[0-9]{1,25}")

_TAGGABLE: frozenset[ContainerKind] = frozenset(
    {"IMAGE", "REELS", "STORY_IMAGE", "STORY_VIDEO", "CAROUSEL_IMAGE_ITEM", "CAROUSEL_VIDEO_ITEM"}
)
_SHARED: frozenset[ContainerKind] = frozenset({"IMAGE", "REELS", "CAROUSEL"})
_WHERE: dict[str, frozenset[ContainerKind]] = {
    "user_tags": _TAGGABLE,
    "collaborators": _SHARED,
    "location_id": _SHARED,
    "audio_name": frozenset({"REELS"}),
    "trial_params": frozenset({"REELS"}),
}
# What the parameters a container keeps leave out: the credentials.
_NOT_KEPT = frozenset({"access_token"})


def _tagging_error(message: str) -> GraphError:
    return invalid_parameter(message, user_title="Invalid User Tags")


def _json(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise invalid_parameter(f"Param {name} must be valid JSON") from exc


def _position(tag: dict[str, Any], axis: str, index: int) -> None:
    value = tag.get(axis)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _tagging_error(f"Param user_tags[{index}][{axis}] must be a number between 0 and 1")


def check_user_tags(raw: str, kind: ContainerKind) -> list[dict[str, Any]]:
    """`user_tags`: a JSON array of tags, each an existing-looking username, placed on everything but stories."""
    tags = _json(raw, "user_tags")
    if not isinstance(tags, list) or not tags:
        raise _tagging_error("Param user_tags must be a non-empty JSON array of {username, x, y} objects")
    if len(tags) > MAX_USER_TAGS:
        raise _tagging_error(f"Param user_tags can tag at most {MAX_USER_TAGS} accounts")
    story = kind in {"STORY_IMAGE", "STORY_VIDEO"}
    for index, tag in enumerate(tags):
        if not isinstance(tag, dict) or not _USERNAME.fullmatch(str(tag.get("username", ""))):
            raise _tagging_error(f"Param user_tags[{index}] must have a valid username")
        if not story:
            _position(tag, "x", index)
            _position(tag, "y", index)
    return tags


def check_collaborators(raw: str) -> list[str]:
    """`collaborators`: a JSON array of at most 3 usernames."""
    names = _json(raw, "collaborators")
    if not isinstance(names, list) or not all(isinstance(name, str) and _USERNAME.fullmatch(name) for name in names):
        raise invalid_parameter("Param collaborators must be a JSON array of usernames")
    if len(names) > MAX_COLLABORATORS:
        raise invalid_parameter(
            f"Param collaborators can invite at most {MAX_COLLABORATORS} accounts", user_title="Too Many Collaborators"
        )
    return names


def check_trial_params(raw: str) -> dict[str, Any]:
    """`trial_params`: `{"graduation_strategy": "MANUAL" | "SS_PERFORMANCE"}`."""
    params = _json(raw, "trial_params")
    if not isinstance(params, dict) or params.get("graduation_strategy") not in GRADUATION_STRATEGIES:
        raise invalid_parameter(
            "Param trial_params must be a JSON object whose graduation_strategy is MANUAL or SS_PERFORMANCE"
        )
    return params


def check_options(params: dict[str, str], kind: ContainerKind) -> dict[str, str]:
    """Check the options the kind takes (refusing those it does not); returns the parameters to keep."""
    for name, kinds in _WHERE.items():
        if params.get(name) and kind not in kinds:
            raise invalid_parameter(f"Param {name} is not supported for this media type")
    if params.get("user_tags"):
        check_user_tags(params["user_tags"], kind)
    if params.get("collaborators"):
        check_collaborators(params["collaborators"])
    if params.get("location_id") and not _LOCATION_ID.fullmatch(params["location_id"]):
        raise invalid_parameter("Param location_id must be the numeric id of a location")
    if params.get("audio_name") is not None and not params["audio_name"].strip():
        raise invalid_parameter("Param audio_name must not be empty")
    if params.get("trial_params"):
        check_trial_params(params["trial_params"])
    return {name: value for name, value in params.items() if name not in _NOT_KEPT}
