"""Cut pagerduty-rest-subset.openapi.json out of PagerDuty's REST API description.

The emulated PagerDuty serves a few REST operations (read-back's `GET /incidents`,
`GET /incidents/{id}`; install's `GET /services`, `GET /services/{id}`,
`POST /services/{id}/integrations`, `GET /services/{id}/integrations/{integration_id}`);
tests/test_emulator_pagerduty_rest.py holds its answers to them. This keeps those
operations, whole, and every component they reference
transitively (`$ref`s into another component's inside, such as
`#/components/schemas/Tag/allOf/0`, keep that whole component), and nothing else,
so the subset is a faithful extract of PagerDuty's own text.

Redo it (e.g. for a newer description, or when the emulator serves another route):

    python tests/data/reference/extract_pagerduty_rest_subset.py \\
        /path/to/pagerduty-rest.openapi.json "GET /incidents" "GET /incidents/{id}"

With no arguments it reads /work/shared/reference/pagerduty-rest.openapi.json and
extracts OPERATIONS below.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

SOURCE = Path("/work/shared/reference/pagerduty-rest.openapi.json")
OUTPUT = Path(__file__).with_name("pagerduty-rest-subset.openapi.json")
OPERATIONS = (
    "GET /incidents",
    "GET /incidents/{id}",
    "GET /services",
    "GET /services/{id}",
    "POST /services/{id}/integrations",
    "GET /services/{id}/integrations/{integration_id}",
)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def extract(document: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """The subset of `document` that serves `operations` ("METHOD /path")."""
    paths: dict[str, Any] = {}
    todo: list[str] = []
    for operation in operations:
        method, path = operation.split(" ", 1)
        node = document["paths"][path][method.lower()]
        paths.setdefault(path, {})[method.lower()] = node
        todo.extend(_refs(node))
    components: dict[str, dict[str, Any]] = {}
    while todo:
        ref = todo.pop()
        if not ref.startswith("#/components/"):
            raise ValueError(f"unexpected $ref {ref!r}")
        section, name = (_unescape(t) for t in ref[len("#/components/") :].split("/")[:2])
        if name in components.get(section, {}):
            continue
        node = document["components"][section][name]
        components.setdefault(section, {})[name] = node
        todo.extend(_refs(node))
    return {
        "openapi": document["openapi"],
        "info": {
            **document["info"],
            "x-bp-integrate-subset": {
                "operations": list(operations),
                "source_sha256": hashlib.sha256(
                    json.dumps(document, sort_keys=True).encode()
                ).hexdigest(),
                "made_by": "tests/data/reference/extract_pagerduty_rest_subset.py",
            },
        },
        "servers": document["servers"],
        "security": document["security"],
        "paths": paths,
        "components": {
            "securitySchemes": document["components"]["securitySchemes"],
            **{section: dict(sorted(items.items())) for section, items in components.items()},
        },
    }


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else SOURCE
    operations = tuple(argv[1:]) or OPERATIONS
    subset = extract(json.loads(source.read_text("utf-8")), operations)
    OUTPUT.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{OUTPUT}: {len(OUTPUT.read_bytes())} bytes, {len(operations)} operation(s)")


if __name__ == "__main__":
    main(sys.argv[1:])
