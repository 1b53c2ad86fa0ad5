"""Validating a JUnit XML report against the schema CI systems read (tests/data/junit-10.xsd,
the shape of Jenkins' JUnit plugin's junit-10.xsd)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

SCHEMA = Path(__file__).parent / "data" / "junit-10.xsd"


def validate(text: str) -> ET.Element:
    """The parsed report; raises xmlschema's XMLSchemaValidationError if it is not valid."""
    import xmlschema  # type: ignore[import-untyped, unused-ignore]

    xmlschema.XMLSchema(str(SCHEMA)).validate(text)
    return ET.fromstring(text)
