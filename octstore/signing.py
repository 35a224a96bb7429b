"""Signed URLs: a link to one remote file that anyone holding it may read, without credentials,
until it expires (fsspec's ``sign``: an S3 presigned URL, a GCS signed URL).

Examples:
    >>> from datetime import timedelta
    >>> seconds_of(timedelta(hours=1))
    3600
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from octstore.errors import InvalidArgumentError, OctstoreError
from octstore.location import Location

__all__ = ["DEFAULT_EXPIRATION", "seconds_of", "sign"]

#: How long a signed URL works by default (octue's): a week, the longest S3 allows.
DEFAULT_EXPIRATION = timedelta(days=7)


def seconds_of(expiration: timedelta | float) -> int:
    """``expiration`` (a ``timedelta`` or seconds) in whole seconds.

    Raises:
        InvalidArgumentError: If it is not positive.
    """
    seconds = expiration.total_seconds() if isinstance(expiration, timedelta) else expiration
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds < 1
    ):
        raise InvalidArgumentError(
            f"expiration={expiration!r} is not a time to come: give a timedelta or a number "
            "of seconds of at least 1"
        )
    return int(seconds)


def sign(location: Location, expiration: timedelta | float, credentials: Any = None) -> str:
    """A URL that reads the file at ``location`` without credentials until ``expiration``
    (from now) has passed.

    Args:
        location: A remote file.
        expiration: How long the URL works (a ``timedelta``, or seconds).
        credentials: For GCS, the ``google.auth`` credentials to sign with when the
            filesystem's own cannot sign (signing needs a service account's private key).

    Raises:
        OctstoreError: If the location's filesystem cannot sign URLs, or its credentials
            cannot.
    """
    seconds = seconds_of(expiration)
    options = {} if credentials is None else {"credentials": credentials}
    try:
        url: str = location.fs.sign(location.fs_path, expiration=seconds, **options)
    except NotImplementedError:
        raise OctstoreError(
            f"{location.url} cannot be signed: {location.protocol}:// has no signed URLs; "
            "upload it to S3 or GCS first"
        ) from None
    except Exception as error:  # google-auth's "need a key", botocore's refusals, ...
        raise OctstoreError(
            f"{location.url} could not be signed for {seconds} seconds ({error}): signing "
            "needs credentials that can sign (on GCS, a service account's private key: "
            "GOOGLE_APPLICATION_CREDENTIALS, or credentials=; credentials= is for GCS only), "
            "and S3 signs for a week at most"
        ) from None
    return url
