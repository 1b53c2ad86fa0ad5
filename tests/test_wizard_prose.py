"""Prose wrapped at word boundaries, never inside a URL or a header value (issue 9
point 4, prose part)."""

from __future__ import annotations

import pytest

from bp_integrate.ui import wrapped

URL = "https://acme.xmatters.com/api/integration/1/functions/0f6c8e8a/triggers?apiKey=****"


@pytest.mark.parametrize("width", [40, 80, 120])
def test_words_are_never_cut(width: int) -> None:
    text = ("Integrations -> New Integration -> Notifications Webhook. " * 6).strip()
    lines = wrapped(text, width, indent=2).splitlines()
    assert all(len(line) <= width for line in lines)
    assert " ".join(line.strip() for line in lines) == text


def test_a_url_gets_a_line_of_its_own_whole() -> None:
    lines = wrapped(f"Paste {URL} into the Callback URL field.", 40, indent=2).splitlines()
    assert f"  {URL}" in lines


def test_a_basic_value_stays_with_its_scheme() -> None:
    text = "Send the header Authorization: Basic eG0tdXNlcjpwYXNzd29yZA== with each request."
    for width in range(30, 90):
        joined = "\n".join(wrapped(text, width).splitlines())
        assert "Basic eG0tdXNlcjpwYXNzd29yZA==" in joined, width


def test_line_breaks_are_kept() -> None:
    assert wrapped("one\ntwo", 80, indent=1) == " one\n two"
