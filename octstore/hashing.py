"""CRC32C content hashes in Google Cloud Storage's encoding.

``hash_value`` everywhere in octstore is the base64 of the big-endian 4-byte CRC32C of the
content, which is exactly the ``crc32c`` field GCS reports for an object, so a ``gs://``
object's hash is known without downloading it.

Examples:
    >>> from octstore.hashing import crc32c_bytes
    >>> crc32c_bytes(b"hello")
    'mnG7TA=='
"""

from __future__ import annotations

import base64
import json
import os
from typing import IO, Any

import google_crc32c

__all__ = [
    "CHUNK_SIZE",
    "EMPTY_HASH",
    "Crc32c",
    "canonical_json",
    "crc32c_bytes",
    "crc32c_file",
    "crc32c_stream",
]

#: Bytes read at a time when hashing a stream: large enough to amortise calls into the
#: C implementation, small enough that memory stays constant for any file size.
CHUNK_SIZE = 1024 * 1024

#: The hash of empty content.
EMPTY_HASH = "AAAAAA=="

_Checksum: Any = google_crc32c.Checksum  # the C implementation; untyped upstream


class Crc32c:
    """An incremental CRC32C, fed with :meth:`update` and read with :meth:`b64digest`."""

    __slots__ = ("_checksum",)

    def __init__(self, data: bytes = b"") -> None:
        self._checksum = _Checksum(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more content."""
        self._checksum.update(data if isinstance(data, bytes) else bytes(data))

    def digest(self) -> bytes:
        """The big-endian 4-byte CRC32C of everything fed so far."""
        digest: bytes = self._checksum.digest()
        return digest

    def b64digest(self) -> str:
        """The CRC32C as GCS writes it: base64 of the big-endian 4 bytes."""
        return base64.b64encode(self.digest()).decode("ascii")


def crc32c_bytes(data: bytes | bytearray | memoryview) -> str:
    """The GCS-style CRC32C of ``data``."""
    hasher = Crc32c()
    hasher.update(data)
    return hasher.b64digest()


def crc32c_stream(stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> str:
    """The GCS-style CRC32C of a binary stream, read to its end in constant memory.

    The stream is read from its current position, ``chunk_size`` bytes at a time. (The C
    implementation accepts only ``bytes``, not reusable buffers, so ``read`` beats
    ``readinto`` plus a copy.)
    """
    hasher = Crc32c()
    while chunk := stream.read(chunk_size):
        hasher.update(chunk)
    return hasher.b64digest()


def crc32c_file(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> str:
    """The GCS-style CRC32C of a local file, streamed in constant memory."""
    with open(path, "rb", buffering=0) as stream:
        return crc32c_stream(stream, chunk_size)


def canonical_json(obj: Any) -> str:
    """The one JSON text of ``obj`` that octstore hashes: sorted keys, no spaces, UTF-8.

    Raises:
        ValueError: If ``obj`` holds NaN or an infinity, which JSON cannot represent.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
