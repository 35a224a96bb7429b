"""CRC32C in GCS's encoding: known vectors, streaming, and agreement with the GCS emulator."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octstore.hashing import (
    EMPTY_HASH,
    Crc32c,
    canonical_json,
    crc32c_bytes,
    crc32c_file,
    crc32c_stream,
)
from tests.servers import GCS_BUCKET, GcsServer


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello", "mnG7TA=="),
        (b"", "AAAAAA=="),
        (b"123456789", "4waSgw=="),  # the CRC-32C check value 0xE3069283
    ],
)
def test_crc32c_matches_known_vectors(data: bytes, expected: str) -> None:
    assert crc32c_bytes(data) == expected


def test_empty_hash_constant_is_the_hash_of_nothing() -> None:
    assert crc32c_bytes(b"") == EMPTY_HASH


@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(0, 4096), max_size=5))
def test_incremental_hash_equals_one_shot_hash(data: bytes, cuts: list[int]) -> None:
    hasher = Crc32c()
    start = 0
    for cut in sorted(min(cut, len(data)) for cut in cuts):
        hasher.update(memoryview(data)[start:cut])
        start = cut
    hasher.update(bytearray(data[start:]))

    assert hasher.b64digest() == crc32c_bytes(data)


@given(data=st.binary(max_size=10_000), chunk_size=st.integers(1, 3000))
def test_stream_hash_is_independent_of_chunk_size(data: bytes, chunk_size: int) -> None:
    assert crc32c_stream(io.BytesIO(data), chunk_size) == crc32c_bytes(data)


def test_file_hash_equals_bytes_hash(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "random.bin"
    path.write_bytes(data)

    assert crc32c_file(path) == crc32c_bytes(data)


def test_file_hash_allocates_one_chunk_whatever_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with path.open("wb") as out:
        for _ in range(64):
            out.write(os.urandom(1024 * 1024))

    tracemalloc.start()
    try:
        crc32c_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * 1024 * 1024  # a 64 MiB file, hashed with a 1 MiB chunk


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Not empty: the emulator's media upload crashes on an empty body (empty content is covered
# through multipart uploads in test_datafile.py::test_hash_value_of_empty_content[gcs]).
@given(data=st.binary(min_size=1, max_size=200_000))
def test_crc32c_agrees_with_gcs_emulator(
    gcs_fs: object, gcs_server: GcsServer, data: bytes
) -> None:
    fs: object = gcs_fs
    # A raw media upload: gcsfs's multipart body loses a final "\r" in the emulator's parser.
    uploaded = fs.call(  # type: ignore[attr-defined]
        "POST",
        f"{gcs_server.endpoint_url}/upload/storage/v1/b/{GCS_BUCKET}/o",
        uploadType="media",
        name="random.bin",
        data=data,
        json_out=True,
    )

    assert int(uploaded["size"]) == len(data)
    assert uploaded["crc32c"] == crc32c_bytes(data)


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="Out of range float values"):
        canonical_json({"a": float("nan")})
