"""Content-Disposition values: an ASCII filename, then RFC 8187's filename*, never a break."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octstore.http import content_disposition
from octstore.store.handles import sanitize_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("memo.txt", "attachment; filename=memo.txt; filename*=UTF-8''memo.txt"),
        (
            "a b;c.txt",
            "attachment; filename=\"a b;c.txt\"; filename*=UTF-8''a%20b%3Bc.txt",
        ),
        ("日本.txt", "attachment; filename=__.txt; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"),
        ("%41.txt", "attachment; filename=_41.txt; filename*=UTF-8''%2541.txt"),
    ],
)
def test_content_disposition(name: str, expected: str) -> None:
    assert content_disposition(name) == expected


@given(st.text())
def test_no_name_can_break_out_of_the_header(name: str) -> None:
    value = content_disposition(sanitize_filename(name))

    assert re.fullmatch(r"[ -~]+", value)
    assert value.count("filename=") == 1
    assert value.count("filename*=UTF-8''") == 1
