"""JUnit XML for CI: one test case per checked thing (a verify hop, a replay step).

This module owns the shape CI systems read (Jenkins, GitLab, GitHub actions' test
reporters all take the `testsuites/testsuite/testcase` form with `failure` and
`skipped` children) and writes it atomically (never half written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CaseStatus = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Case:
    """One test case: `classname` groups it (an integration, say), `name` says what."""

    classname: str
    name: str
    seconds: float
    status: CaseStatus
    message: str = ""
    detail: str = ""


def render(suite: str, cases: Sequence[Case], timestamp: str | None = None) -> str:
    """The JUnit XML document for one suite."""
    import xml.etree.ElementTree as ET
    from datetime import UTC, datetime

    failures = sum(1 for c in cases if c.status == "failed")
    skipped = sum(1 for c in cases if c.status == "skipped")
    total = sum(c.seconds for c in cases)
    root = ET.Element(
        "testsuites",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        time=f"{total:.3f}",
    )
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total:.3f}",
        timestamp=timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for case in cases:
        element = ET.SubElement(
            node, "testcase", classname=case.classname, name=case.name, time=f"{case.seconds:.3f}"
        )
        if case.status == "failed":
            failure = ET.SubElement(element, "failure", message=case.message, type="failure")
            failure.text = case.detail or case.message
        elif case.status == "skipped":
            ET.SubElement(element, "skipped", message=case.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: Path, suite: str, cases: Sequence[Case]) -> None:
    """Write the document atomically (a temp file in the same folder, fsync, replace).

    Not `fs.atomic_write`: that one makes the folder private (bp-integrate's own
    folders), and a report goes wherever CI wants it, folder untouched. A missing
    folder or a read-only one is a UsageError naming the path.
    """

    from bp_integrate.errors import UsageError

    text = render(suite, cases)
    from bp_integrate.fs import atomic_write

    try:
        # Readable by CI's report collectors; the folder is the user's, left as it is.
        atomic_write(path, text, mode=0o644, private_dir=False)
    except OSError as exc:
        raise UsageError(
            f"Cannot write the JUnit report {path}: {exc.strerror or exc}.",
            "Give --junit a path in a folder that exists and is writable.",
        ) from None
