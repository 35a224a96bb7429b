"""A short-lived lease per S3 key, so that metadata updates and write-backs of it take turns.

S3 keeps an object's ETag when only its metadata changes, and moto (unlike AWS) ignores
``IfMatch`` on ``CopyObject``: no precondition on the object itself can tell that another
writer updated its metadata. So every metadata update and every content write-back of
``<prefix>/<name>`` first takes the lease object ``<prefix>/.<name>.octstore-lease``:

1. take it with a ``PutObject`` conditional on ``If-None-Match: *`` (create only): exactly
   one writer succeeds;
2. if it is held, read its ``LastModified`` and the response's ``Date`` (the server's clock,
   never this machine's): a lease older than its time to live (``OCTSTORE_LEASE_TTL``,
   30 s by default) belongs to a writer that died, and is taken over with a ``PutObject``
   conditional on its ETag (atomic: one writer takes it over); a live lease is waited for,
   with jittered retries, up to ``OCTSTORE_LEASE_WAIT`` seconds (10 by default), then
   :class:`~octstore.errors.ConflictError`;
3. under the lease, re-read the object, apply the writer's changes, write;
4. release it with a ``DeleteObject`` conditional on the lease's own ETag, so that a lease
   taken over meanwhile is never deleted by its former holder.

A writer whose response was lost meets its own lease: the lease carries its holder's token in
its metadata (and as its body, so that every lease has an ETag of its own), and a holder
recognises its own. A holder about to upload a large file says in the lease how long it
lasts (the time to live, plus a second per MiB), and others judge it by that. Cost: two
requests (take, release) per update or write-back, plus the re-read. Writers that do not use
octstore bypass the lease and are outside this guarantee.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from octstore.errors import ConflictError, warn
from octstore.location import Location
from octstore.redaction import get_logger

__all__ = ["DEFAULT_TTL", "DEFAULT_WAIT", "LEASE_SUFFIX", "held", "lease_name"]

LEASE_SUFFIX = ".octstore-lease"
#: Seconds after which a lease whose holder never released it may be taken over.
DEFAULT_TTL = 30.0
#: Seconds a writer waits for a held lease before it gives up with a ConflictError.
DEFAULT_WAIT = 10.0
_OWNER = "octstore-lease-owner"
_HELD_FOR = "octstore-lease-ttl"

_log = get_logger(__name__)


#: The leases this process could not release, by ``bucket/key``: their tokens. Such a lease
#: belongs to a write that is over, so this process may take it over at once rather than
#: wait for it to expire.
_unreleased: dict[str, str] = {}


def lease_name(name: str) -> str:
    """The lease object name of the object ``name``."""
    return f".{name}{LEASE_SUFFIX}"


def _seconds(variable: str, default: float) -> float:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        from octstore.errors import ConfigError

        raise ConfigError(f"{variable}={value!r} is not a number of seconds: use e.g. 30")
    return seconds


def _held_for(lease_metadata: dict[str, str]) -> float:
    """How long a lease's holder said it lasts (0 if it did not say)."""
    try:
        return float(lease_metadata.get(_HELD_FOR, 0))
    except ValueError:
        return 0.0


def _server_age(response: dict[str, Any]) -> float | None:
    """How old the object a ``HeadObject`` response describes is, by the server's clock."""
    date = (response.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("date")
    modified = response.get("LastModified")
    if not date or not isinstance(modified, datetime):
        return None
    with contextlib.suppress(TypeError, ValueError):
        return (parsedate_to_datetime(date) - modified).total_seconds()
    return None


@contextlib.contextmanager
def held(
    location: Location,
    bucket: str,
    key: str,
    is_conflict: Callable[[BaseException], bool],
    is_missing: Callable[[BaseException], bool],
    *,
    longer_by: float = 0.0,
) -> Iterator[None]:
    """Hold the lease of the object ``bucket``/``key`` at ``location`` (see the module).

    Args:
        location: The object, for messages.
        bucket: Its bucket.
        key: Its key.
        is_conflict: Whether an error is S3's failed precondition (412, 409).
        is_missing: Whether an error is S3's 404 for a key.
        longer_by: Seconds the holder may need beyond the time to live (a large upload):
            the lease says how long it lasts, and others judge it by that.

    Raises:
        ConflictError: If another writer held the lease longer than the wait allows.
    """
    fs = location.fs
    directory, _, name = key.rpartition("/")
    lease_key = f"{directory}/{lease_name(name)}" if directory else lease_name(name)
    lease_id = f"{bucket}/{lease_key}"
    token = uuid.uuid4().hex
    ttl = _seconds("OCTSTORE_LEASE_TTL", DEFAULT_TTL)
    lasts = ttl + max(0.0, longer_by)
    deadline = time.monotonic() + _seconds("OCTSTORE_LEASE_WAIT", DEFAULT_WAIT)

    def put(**condition: str) -> str | None:
        """Write the lease under ``condition``: its ETag, or None if the condition failed."""
        try:
            response = fs.call_s3(
                "put_object",
                Bucket=bucket,
                Key=lease_key,
                # The token as the body gives each lease an ETag of its own, so that an
                # If-Match on one lease (a takeover, a release) never matches another.
                Body=token.encode("ascii"),
                Metadata={_OWNER: token, _HELD_FOR: f"{lasts:.0f}"},
                **condition,
            )
        except OSError as error:
            if is_conflict(error):
                return None
            raise
        etag: str = response["ETag"]
        return etag

    delay = 0.02
    while True:
        etag = put(IfNoneMatch="*")
        if etag is not None:
            break
        try:
            head: dict[str, Any] = fs.call_s3("head_object", Bucket=bucket, Key=lease_key)
        except FileNotFoundError:
            continue  # released meanwhile: take it
        lease_metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        owner = lease_metadata.get(_OWNER)
        if owner == token:  # ours, from a retried request
            etag = head["ETag"]  # whose response was lost
            break
        if owner is not None and _unreleased.get(lease_id) == owner:
            _log.debug("taking over this process's unreleased lease of %s", location.url)
            etag = put(IfMatch=head["ETag"])
            if etag is not None:
                break
            continue
        age = _server_age(head)
        if age is not None and age > max(ttl, _held_for(lease_metadata)):
            _log.debug("taking over the expired lease of %s (%.0f s old)", location.url, age)
            etag = put(IfMatch=head["ETag"])
            if etag is not None:
                break
            continue
        if time.monotonic() >= deadline:
            raise ConflictError(
                f"{location.url} is being written by another process (it holds the lease "
                f"s3://{bucket}/{lease_key}); nothing was written: try again, or after "
                f"{ttl:.0f} s if that writer died",
                path=location.url,
            )
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 0.5)
    _unreleased.pop(lease_id, None)  # it is taken: nothing of it is left
    try:
        yield
    finally:
        if not _release(location, bucket, lease_key, etag, is_conflict, is_missing):
            _unreleased[lease_id] = token


def _release(
    location: Location,
    bucket: str,
    lease_key: str,
    etag: str,
    is_conflict: Callable[[BaseException], bool],
    is_missing: Callable[[BaseException], bool],
) -> bool:
    """Delete the lease if it is still ours (a lease taken over meanwhile is left alone);
    whether nothing of ours is left behind."""
    try:
        location.fs.call_s3("delete_object", Bucket=bucket, Key=lease_key, IfMatch=etag)
    except OSError as error:
        if is_missing(error):  # gone: our own delete retried after its response was lost,
            _log.debug("the lease of %s was gone at its release", location.url)  # or taken
            return True  # over and released: nothing of ours to clean up either way
        if is_conflict(error):
            problem = (
                "held its lease longer than it said it would, and another writer took it "
                "over: that writer may have written meanwhile; check the file, and raise "
                "OCTSTORE_LEASE_TTL if writes take this long"
            )
        else:  # the write itself is done: it must not look failed
            problem = (
                f"could not release its lease ({error}): other writers wait for it to "
                "expire (OCTSTORE_LEASE_TTL)"
            )
            warn(f"the write of {location.url} {problem}", stacklevel=3)
            return False
        warn(f"the write of {location.url} {problem}", stacklevel=3)
    return True
