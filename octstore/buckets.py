"""Buckets: the names each cloud allows, and telling a missing bucket from a missing file.

A URL of a cloud with buckets (``s3://bucket/key``, ``gs://bucket/key``; Azure's containers,
``az://container/blob``) starts with one. A
:class:`~octstore.location.Location` refuses a name that no server of that cloud can have
before any request is made, saying which rule it breaks (:meth:`Buckets.check`). A failure
that shows the bucket itself is missing becomes a
:class:`~octstore.errors.BucketNotFoundError` rather than a missing file
(:meth:`Buckets.says_missing`); where a failure cannot tell (a missing object answers as a
missing bucket does), :meth:`Buckets.look_for` asks the cloud, for one request.

Each protocol's :class:`~octstore.protocols.Protocol` entry holds its :class:`Buckets`:
adding a cloud with buckets is one more instance here.

Examples:
    >>> from octstore.buckets import GCS_BUCKETS
    >>> GCS_BUCKETS.problem("Raw_Data")
    "it holds 'D', 'R'"
    >>> GCS_BUCKETS.problem("raw-data") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fsspec.core import split_protocol

from octstore.errors import BucketNotFoundError, InvalidPathError

__all__ = ["AZURE_CONTAINERS", "GCS_BUCKETS", "S3_BUCKETS", "Buckets", "bucket_of"]


@dataclass(frozen=True)
class Buckets:
    """How one cloud names its buckets, and how its failures show that one is missing.

    Attributes:
        rules: The naming rules in words, for the error that refuses a name.
        problem: Why a name breaks the rules (``"it holds '!'"``), or None if a bucket may
            have it.
        says_missing: Whether a ``FileNotFoundError`` of the cloud's filesystem shows that
            the bucket itself does not exist.
        kind: What the cloud calls a bucket (Azure: ``"container"``).
        reach: What decides which buckets a client sees, for the error naming a missing one.
        container_of: The bucket in a URL's path after its protocol, where
            :func:`bucket_of` does not find it.
    """

    rules: str
    problem: Callable[[str], str | None]
    says_missing: Callable[[BaseException], bool]
    kind: str = "bucket"
    reach: str = "the endpoint (endpoint_url)"
    container_of: Callable[[str], str] | None = None

    def name_of(self, path: str) -> str:
        """The bucket in ``path``, a URL's path after its protocol."""
        return (self.container_of or bucket_of)(path)

    def check(self, url: str, path: str) -> None:
        """Refuse ``url``, whose path after the protocol is ``path``, if its bucket's name
        breaks the rules.

        Raises:
            InvalidPathError: Naming the bucket, the rule and the rules.
        """
        bucket = self.name_of(path)
        problem = self.problem(bucket)
        if problem is not None:
            raise InvalidPathError(
                f"the {self.kind} name {bucket!r} in {url!r} is invalid: {problem}; "
                f"{self.rules}: check the URL"
            )

    def missing(self, url: str) -> BucketNotFoundError:
        """The error for ``url``, whose bucket does not exist."""
        bucket = self.name_of(split_protocol(url)[1])
        return BucketNotFoundError(
            f"the {self.kind} {bucket!r} does not exist ({url}): check the {self.kind} name, "
            f"{self.reach} and that the credentials are for the account that holds it"
        )

    def look_for(self, fs: Any, url: str) -> BucketNotFoundError | None:
        """Ask the cloud, in one request, whether ``url``'s bucket exists: the error to
        raise if it does not; None if it does, or if the cloud would not say (no right to
        look at the bucket, the network)."""
        try:
            fs.info(self.name_of(split_protocol(url)[1]))
        except FileNotFoundError:
            return self.missing(url)
        except Exception:  # a question asked on the way to another error: no answer
            return None
        return None


def bucket_of(path: str) -> str:
    """The bucket in a URL's path after its protocol: ``bucket/key`` -> ``bucket``, without
    any userinfo (``key:secret@bucket``)."""
    return path.split("/", 1)[0].rpartition("@")[2]


def _characters(name: str, allowed: str) -> str | None:
    bad = sorted({character for character in name if character not in allowed})
    return f"it holds {', '.join(map(repr, bad))}" if bad else None


def _length(name: str, shortest: int, longest: int) -> str | None:
    return None if shortest <= len(name) <= longest else f"it has {len(name)} characters"


def _edges(name: str) -> str | None:
    if not name[0].isalnum():
        return f"it starts with {name[0]!r}"
    if not name[-1].isalnum():
        return f"it ends with {name[-1]!r}"
    return None


_DIGITS = "0123456789"
_LOWERCASE = "abcdefghijklmnopqrstuvwxyz"


def _s3_problem(name: str) -> str | None:
    """What botocore itself refuses, for any S3 server: older AWS buckets may hold uppercase
    letters and ``_``, and an S3-compatible server may allow short names."""
    if not name:
        return "it is empty"
    if name.startswith("arn:"):  # an access point, which botocore reads itself
        return None
    allowed = _LOWERCASE + _LOWERCASE.upper() + _DIGITS + ".-_"
    return _characters(name, allowed) or _length(name, 1, 255)


def _gcs_problem(name: str) -> str | None:
    """Google Cloud Storage's rules, which every GCS bucket follows."""
    if not name:
        return "it is empty"
    longest_part = max(name.split("."), key=len)
    return (
        _characters(name, _LOWERCASE + _DIGITS + "-_.")
        or _length(name, 3, 222 if "." in name else 63)
        or (f"it has a part of {len(longest_part)} characters" if len(longest_part) > 63 else None)
        or _edges(name)
        or _gcs_reserved(name)
    )


def _gcs_reserved(name: str) -> str | None:
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "it is an IP address"
    if name.startswith("goog") or "google" in name:
        return "it starts with 'goog' or holds 'google', which Google keeps for itself"
    return None


def _s3_says_missing(error: BaseException) -> bool:
    """Whether S3 answered ``NoSuchBucket`` (to a listing, a write: not to a ``HEAD``,
    whose answer has no body), in the botocore error s3fs's error was translated from."""
    for seen in _chain(error):
        response = getattr(seen, "response", None)
        if isinstance(response, Mapping):
            return bool(response.get("Error", {}).get("Code") == "NoSuchBucket")
    return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and each error it was raised from or while handling, innermost last."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


#: The request path in gcsfs's ``FileNotFoundError`` for a 404 that only a missing bucket
#: gets: the bucket's own resource (``b/<bucket>``) or its list of objects (``b/<bucket>/o``,
#: to list or upload), not an object (``b/<bucket>/o/<name>``).
_GCS_BUCKET_PATH = re.compile(r"(?:^|/)b/[^/?]+(?:/o)?/?(?:\?.*)?$")


def _gcs_says_missing(error: BaseException) -> bool:
    return bool(error.args) and _GCS_BUCKET_PATH.search(str(error.args[0])) is not None


def _azure_problem(name: str) -> str | None:
    """Azure's rules for container names, which every storage account follows (``$root``,
    ``$web`` and ``$logs`` are containers Azure names itself)."""
    if name in ("$root", "$web", "$logs"):
        return None
    if not name:
        return "it is empty"
    return (
        _characters(name, _LOWERCASE + _DIGITS + "-")
        or _length(name, 3, 63)
        or _edges(name)
        or ("it holds '--'" if "--" in name else None)
    )


def _azure_says_missing(error: BaseException) -> bool:
    """Whether Azure answered ``ContainerNotFound``, in the SDK error adlfs's or octstore's
    ``FileNotFoundError`` was translated from (adlfs says so itself for a container's info)."""
    return any(
        getattr(seen, "error_code", None) == "ContainerNotFound"
        or (isinstance(seen, FileNotFoundError) and "No such container" in str(seen))
        for seen in _chain(error)
    )


def _azure_container_of(path: str) -> str:
    """The container in ``container/blob``, in adlfs's ``container@account.host/blob`` and
    ``account.host/container/blob``; never a ``user:password`` (Azure takes none in a URL)."""
    parts = path.split("/", 2)
    userinfo, at, host = parts[0].rpartition("@")
    if at and ":" not in userinfo:
        return userinfo
    if host.endswith(_AZURE_HOSTS) and len(parts) > 1:
        return parts[1]
    return host


#: The endings of the account hosts adlfs takes at the start of a path.
_AZURE_HOSTS = (".blob.core.windows.net", ".dfs.core.windows.net")


#: Amazon S3's buckets (and any S3-compatible server's).
S3_BUCKETS = Buckets(
    rules="S3 bucket names are 3 to 63 lowercase letters, digits, '.' and '-', starting and "
    "ending with a letter or digit (older ones may also hold uppercase letters and '_')",
    problem=_s3_problem,
    says_missing=_s3_says_missing,
)
#: Google Cloud Storage's buckets.
GCS_BUCKETS = Buckets(
    rules="GCS bucket names are 3 to 63 lowercase letters, digits, '-', '_' and '.' (up to 222 "
    "with dots, 63 between them), starting and ending with a letter or digit",
    problem=_gcs_problem,
    says_missing=_gcs_says_missing,
)
#: Azure Blob Storage's containers.
AZURE_CONTAINERS = Buckets(
    rules="Azure container names are 3 to 63 lowercase letters, digits and '-', starting and "
    "ending with a letter or digit, with no '--'",
    problem=_azure_problem,
    says_missing=_azure_says_missing,
    kind="container",
    reach="the storage account (account_name, or the connection string)",
    container_of=_azure_container_of,
)
