"""How a webhook body is marked as test data, so nobody is paged by mistake for real.

Owns the marks (`[TEST] ` before descriptions and comments, the `bp_integrate_test` alert
tag and incident tag), the length limits they must respect, and `mark_as_test`, applied
last to any body (simulated, edited with --set, or the user's own --payload). Stdlib only.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from bp_integrate.bigpanda.events import incident_of

__all__ = [
    "DESCRIPTION_MAX",
    "TEST_MARKER_TAG",
    "TEST_PREFIX",
    "incident_tag_id",
    "mark_as_test",
    "truncate",
]

DESCRIPTION_MAX = 2048  # an alert description's limit [C]
TEST_PREFIX = "[TEST] "
#: The alert tag and incident tag that mark a body as test data (`tag_id` below).
TEST_MARKER_TAG = "bp_integrate_test"


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in `...` when cut."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


@lru_cache(maxsize=1024)
def incident_tag_id(name: str) -> str:
    """The `tag_id` of the incident tag named `name`: `itd-` and 10 hex digits [G].

    BigPanda shows incident tag ids like `itd-9ff554bc0c` [S]; how it derives them is not
    published, so ours are a stable hash of the name: a receiver keying on a tag id sees
    the same id for the same tag in every event and every run.
    """
    return "itd-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]


TEST_MARKER_TAG_ID = incident_tag_id(TEST_MARKER_TAG)


def _has_marker(tags: list[Any], key: str, marks: tuple[str, ...]) -> bool:
    return any(isinstance(t, dict) and t.get(key) in marks for t in tags)


def mark_as_test(body: dict[str, Any]) -> None:
    """Mark a webhook body as test data, in place, where it has the fields for it.

    The same marks the simulator makes, applied last (after `--set` edits, and to a
    `--payload` body): `[TEST] ` before each alert's `description` and before the
    top-level `comment` (strings only, not twice), the `bp_integrate_test` tag on each
    alert whose `tags` is a list, and on `incident_tags` when it is a list (an entry with
    the marker's tag id, or its name as older bodies had it, counts as marked). Nothing
    is added where the body has no such field: a body of your own keeps its shape.
    """
    comment = body.get("comment")
    if isinstance(comment, str) and not comment.startswith(TEST_PREFIX):
        body["comment"] = TEST_PREFIX + comment
    incident = incident_of(body)
    alerts = incident.get("alerts")
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict):
            continue
        description = alert.get("description")
        if isinstance(description, str) and not description.startswith(TEST_PREFIX):
            alert["description"] = truncate(TEST_PREFIX + description, DESCRIPTION_MAX)
        tags = alert.get("tags")
        if isinstance(tags, list) and not _has_marker(tags, "name", (TEST_MARKER_TAG,)):
            tags.append({"name": TEST_MARKER_TAG, "value": "true"})
    incident_tags = incident.get("incident_tags")
    if isinstance(incident_tags, list) and not _has_marker(
        incident_tags, "tag_id", (TEST_MARKER_TAG_ID, TEST_MARKER_TAG)
    ):
        incident_tags.append({"tag_id": TEST_MARKER_TAG_ID, "tag_value": "true"})
