"""A local file sent as the body of a ``PutObject``: its progress told as it goes, and its
bytes checked as they go against the CRC32C the caller computed.

S3 checks ``x-amz-checksum-crc32c`` itself, but not every server that speaks its API does
(moto does not). So the body hashes what it sends, and before it hands over its last bytes
it compares: if the file changed while it was read (or since it was hashed), the read
raises instead, the request ends before its body does, and the server, short of the bytes
its ``Content-Length`` promised, stores nothing.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fsspec.callbacks import Callback

from octstore.errors import IntegrityError
from octstore.hashing import EMPTY_HASH, Crc32c

__all__ = ["sent_body"]


class _SentBody(io.BufferedReader):
    """A local file read as a ``PutObject`` body that tells an fsspec callback how much of it
    was sent: its position after each read made once the request is on its way (botocore's
    ``before-send``). Reads before that are not sending: botocore signs a request to an
    ``http://`` endpoint by reading the whole body first, and again for each retry, which
    seeks back to the start (so the count starts again from 0).

    Every read is hashed, whoever reads (a signature, the HTTP client, which may read the
    body more than once), and the read that reaches the end raises :class:`IntegrityError`
    instead of returning if the bytes up to there are not those of ``crc32c``."""

    def __init__(self, path: str, callback: Callback, crc32c: str, url: str) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._callback = callback
        self._sending = False
        self._path, self._expected, self._url = path, crc32c, url
        self._size = os.fstat(self.fileno()).st_size
        self._hasher, self._hashed = Crc32c(), 0  # the CRC32C of bytes 0 up to _hashed
        #: Why a read refused to end the body (the HTTP client may report it otherwise).
        self.refused: IntegrityError | None = None

    def on_its_way(self, length: str | None) -> None:
        """An attempt is about to be sent, declaring ``length`` bytes: it must send the
        whole file from its start, as it was hashed (else it is refused before it goes).
        After one attempt was refused, every later one is, unsent: the file is not the
        content hashed, and sending it again cannot make it so."""
        if self.refused is not None:
            raise self.refused
        if self.tell() != 0 or (length is not None and int(length) != self._size):
            self._refuse()  # botocore measured another length: the file changed size
        if self._size == 0 and self._expected != EMPTY_HASH:
            self._refuse()  # nothing to send, so nothing could be cut short
        self._hasher, self._hashed = Crc32c(), 0
        self._sending = True
        self._callback.absolute_update(0)

    def read(self, size: int | None = -1, /) -> bytes:
        start = self.tell()
        data = super().read(size)
        if start != self._hashed:  # a pass that did not start where the last one ended
            self._hasher, self._hashed = Crc32c(os.pread(self.fileno(), start, 0)), start
        self._hasher.update(data)
        self._hashed += len(data)
        if not data or self._hashed >= self._size:
            self._check_end()
        if self._sending:
            self._callback.absolute_update(self.tell())
        return data

    def _check_end(self) -> None:
        """Raise if the body about to end is not the content the caller hashed."""
        if self._hashed != self._size or self._hasher.b64digest() != self._expected:
            self._refuse()

    def _refuse(self) -> None:
        self.refused = IntegrityError.changed_while_uploaded(self._path, self._url)
        raise self.refused

    def seek(self, target: int, whence: int = 0, /) -> int:
        self._sending = False
        return super().seek(target, whence)


def _on_its_way(request: Any, **kwargs: Any) -> None:
    """botocore's ``before-send`` event, once per attempt: ``request`` is signed and about
    to be sent."""
    if isinstance(request.body, _SentBody):
        request.body.on_its_way(request.headers.get("Content-Length"))


def _from_the_start(params: dict[str, Any], **kwargs: Any) -> None:
    """botocore's ``before-call`` event: a call (s3fs calls again after botocore's own
    retries ran out) sends the body from its start, not from where the last one stopped."""
    if isinstance(params.get("body"), _SentBody):
        params["body"].seek(0)


@contextmanager
def sent_body(
    fs: Any, source: str, callback: Callback, crc32c: str, url: str
) -> Iterator[IO[bytes]]:
    """The local file ``source`` opened as the body of a ``PutObject`` to ``url`` through
    ``fs``, its bytes told to ``callback`` as they are sent and checked against ``crc32c``.

    Raises:
        IntegrityError: If the bytes sent were not those of ``crc32c``: the request was cut
            short, so nothing was written.
    """
    events = fs.s3.meta.events
    events.register("before-send.s3.PutObject", _on_its_way, unique_id="octstore-sent-body")
    events.register("before-call.s3.PutObject", _from_the_start, unique_id="octstore-body-start")
    with _SentBody(source, callback, crc32c, url) as body:
        try:
            yield body
        except Exception as error:
            if body.refused is not None and error is not body.refused:
                raise body.refused from error
            raise
