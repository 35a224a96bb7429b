"""Checked by mypy in tests/test_typing.py, never run: ``Datafile.open()`` is typed by mode
as the builtin ``open`` is."""

from __future__ import annotations

from typing import IO, Any, BinaryIO, TextIO

from typing_extensions import assert_type

from octstore import Datafile


def modes(df: Datafile, mode: str) -> None:
    assert_type(df.open(), TextIO)
    assert_type(df.open("r"), TextIO)
    assert_type(df.open("w", encoding="utf-8", newline=""), TextIO)
    assert_type(df.open("a+"), TextIO)
    assert_type(df.open("rb"), BinaryIO)
    assert_type(df.open("wb"), BinaryIO)
    assert_type(df.open("r+b"), BinaryIO)
    assert_type(df.open(mode), IO[Any])


def files(df: Datafile) -> None:
    with df.open() as text:
        assert_type(text, TextIO)
        assert_type(text.read(), str)
    with df.open("rb") as binary:
        assert_type(binary.read(), bytes)
    f = df.open("w")
    assert_type(f.write("x"), int)
    f.close()


def pathlib_verbs(df: Datafile) -> None:
    assert_type(df.read_text(), str)
    assert_type(df.read_bytes(), bytes)
    assert_type(df.write_text("x", encoding="utf-8"), int)
    assert_type(df.write_bytes(b"x"), int)
    assert_type(df.exists(), bool)
