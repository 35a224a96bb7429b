"""The S3 upload body checks, before each attempt goes, that it will send the whole file as
it was hashed, and on its last read that it did (see ``octstore/backends/s3_body.py``; the
uploads themselves are tested on moto in ``tests/test_progress_callbacks.py`` and the
conformance suite). Botocore signs ``http://`` bodies by reading them first, which hides
these cases on moto; on ``https://`` nothing reads the body before it is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from fsspec.callbacks import Callback

from octstore.backends.s3_body import _from_the_start, _SentBody
from octstore.errors import IntegrityError
from octstore.hashing import crc32c_bytes

URL = "s3://bucket/f.bin"


def body(path: Path, content: bytes, claimed: bytes) -> _SentBody:
    path.write_bytes(content)
    return _SentBody(str(path), Callback(), crc32c_bytes(claimed), URL)


def test_an_empty_file_hashed_with_content_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    with body(tmp_path / "f.bin", b"", b"content") as sent, pytest.raises(IntegrityError):
        sent.on_its_way("0")


def test_a_file_that_changed_length_since_it_was_opened_is_refused(tmp_path: Path) -> None:
    with body(tmp_path / "f.bin", b"0123456789", b"0123456789") as sent:
        (tmp_path / "f.bin").write_bytes(b"01234")  # botocore measures 5 bytes now
        with pytest.raises(IntegrityError, match=r"f\.bin changed while it was uploaded"):
            sent.on_its_way("5")


def test_an_attempt_starts_from_the_beginning_and_is_checked_whole(tmp_path: Path) -> None:
    with body(tmp_path / "f.bin", b"0123456789", b"0123456789") as sent:
        assert sent.read() == b"0123456789"  # an attempt that went, with no answer
        _from_the_start({"body": sent})  # s3fs calls again with the same body

        sent.on_its_way("10")

        assert sent.read(4) + sent.read() == b"0123456789"


def test_the_read_that_would_end_a_changed_body_raises(tmp_path: Path) -> None:
    content = bytes(100_000)  # beyond the reader's buffer
    with body(tmp_path / "f.bin", content, content) as sent:
        sent.on_its_way("100000")
        assert sent.read(5) == bytes(5)
        with open(tmp_path / "f.bin", "r+b") as file:  # another program rewrites the end
            file.seek(-10, 2)
            file.write(b"x" * 10)

        with pytest.raises(IntegrityError):
            sent.read()
        assert sent.refused is not None


def test_after_a_refused_attempt_every_later_one_is_refused_unsent(tmp_path: Path) -> None:
    with body(tmp_path / "f.bin", b"0123456789", b"other") as sent:
        sent.on_its_way("10")
        with pytest.raises(IntegrityError):
            sent.read()
        _from_the_start({"body": sent})  # a retry, of the same bytes

        with pytest.raises(IntegrityError):
            sent.on_its_way("10")
