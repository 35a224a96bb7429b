"""The exception hierarchy: every error octstore raises is an :class:`OctstoreError`.

Each error also subclasses the builtin exception a user would already catch
(``ValueError`` for bad input, ``FileNotFoundError`` for a missing object, ...), so
``except FileNotFoundError`` keeps working when a plain path becomes a cloud URL.
Messages name the path concerned and say what to do about it, and never carry a credential:
every message is redacted (:func:`octstore.redaction.redact`) when the error is made.

Every error and warning here is exported by :mod:`octstore`, whose ``__all__`` is the one list
of them (``tests/test_exported_members.py`` checks that none is missing).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from octstore.redaction import redact


@dataclass(frozen=True)
class Keyword:
    """A keyword argument that an error's fix tells the caller to pass.

    The message spells it in Python (``str(keyword)``: ``overwrite=True``); the command line,
    which knows its own options, spells it its way (``--overwrite``).

    Attributes:
        name: The argument's name.
        value: The value to pass.
    """

    name: str
    value: object = True

    def __str__(self) -> str:
        return f"{self.name}={self.value!r}"


#: The fix for other content where a file would be written.
OVERWRITE = Keyword("overwrite", True)


class OctstoreError(Exception):
    """Base class of every error raised by octstore.

    Its message never holds a credential: a URL's userinfo, a signed URL's signature or a
    secret storage option in the arguments is masked here, however the message was built.

    Attributes:
        keywords: The keyword arguments the message's fix names (``overwrite=True``), each
            spelled in it as ``str(keyword)``.
    """

    def __init__(self, *args: object, keywords: Iterable[Keyword] = ()) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))
        self.keywords = tuple(keywords)
        # The error being handled becomes this one's cause or context, shown in its
        # traceback: an SDK's message may quote the URL's credentials too.
        _redact_chain(sys.exc_info()[1])


def _redact_chain(error: BaseException | None) -> None:
    """Redact the messages of ``error`` and the errors it was raised from, in place."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen and not isinstance(error, OctstoreError):
        seen.add(id(error))
        with contextlib.suppress(Exception):  # an exception type may refuse new attributes
            error.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in error.args)
            if isinstance(error, OSError):
                for name in ("strerror", "filename", "filename2"):
                    if isinstance(getattr(error, name), str):
                        setattr(error, name, redact(getattr(error, name)))
        error = error.__cause__ or error.__context__


def warn(message: str, *, stacklevel: int = 1) -> None:
    """Warn with an :class:`OctstoreWarning`, credentials redacted from ``message``.

    Args:
        message: What happened and what to do.
        stacklevel: As for :func:`warnings.warn`, counted from the caller of this function.
    """
    warnings.warn(redact(message), OctstoreWarning, stacklevel=stacklevel + 1)


class OctstoreWarning(UserWarning):
    """Something went wrong that did not stop the operation: metadata that was ignored, a
    cache that could not keep a copy. The message names the path and what to do."""


class InvalidMetadataError(OctstoreError, ValueError):
    """Metadata (an id, timestamp, label or tag) that octstore cannot store."""


class InvalidLabelError(InvalidMetadataError):
    """A label that is not lowercase letters, digits and inner hyphens."""


class InvalidTagError(InvalidMetadataError):
    """A tag whose name is not a valid identifier or whose value is not JSON."""


class InvalidPathError(OctstoreError, ValueError):
    """A path octstore cannot keep a file at: a name it keeps for its own files, or one too
    long for the metadata files it keeps beside it; or a place it cannot list as a dataset
    (an ``http://`` URL)."""


class InvalidArgumentError(OctstoreError, TypeError):
    """An argument of a type the function does not take (``Dataset(files="a.csv")``), or
    two arguments that mean the same given together; the message names what it takes."""


class InvalidModeError(OctstoreError, ValueError):
    """A file mode that is not one of the builtin ``open`` modes."""


class InvalidHandleError(OctstoreError, ValueError):
    """A string that is not a store handle (``<sha256 hex>/<file name>``)."""


class ConfigError(OctstoreError, ValueError):
    """The configuration (``OCTSTORE_*`` variables, the TOML file) is invalid or lacks a
    named store. Messages never contain secret values."""


class NotFoundError(OctstoreError, FileNotFoundError):
    """The object, file or bucket does not exist."""


class BucketNotFoundError(NotFoundError):
    """The bucket (or container) a URL names does not exist: nothing in it can be read or
    written."""


class AlreadyExistsError(OctstoreError, FileExistsError):
    """A file with other content is where one would be written (a download's or an
    upload's destination, a file opened with mode ``x``); it was left as it is."""


class AccessDeniedError(OctstoreError, PermissionError):
    """The backend refused the operation: missing credentials, or a read-only location."""


class NotWrittenError(OctstoreError, OSError):
    """Content could not be written; it was kept on local disk, at ``kept_at``.

    Attributes:
        path: The datafile's path.
        kept_at: Where the content that could not be written was kept, if anywhere.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        kept_at: str | None = None,
        keywords: Iterable[Keyword] = (),
    ) -> None:
        super().__init__(message, keywords=keywords)
        self.path = path
        self.kept_at = kept_at

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), str(self), self.path, self.kept_at))


def _rebuild(
    cls: type[NotWrittenError], message: str, path: str, kept_at: str | None
) -> NotWrittenError:
    return cls(message, path=path, kept_at=kept_at)


class ConflictError(NotWrittenError):
    """The remote object changed since it was read; writing would lose someone's update."""

    @classmethod
    def content_changed(cls, path: str, kept_at: str) -> ConflictError:
        """The file changed since it was read; the new content is kept at ``kept_at``."""
        return cls(
            f"{path} changed since you read it; your content is kept at {kept_at}: merge it "
            "with the new version and write again",
            path=path,
            kept_at=kept_at,
        )

    @classmethod
    def created_meanwhile(cls, path: str, kept_at: str) -> ConflictError:
        """Someone created the file while it was being written; the content is kept."""
        return cls(
            f"{path} was created by someone else while you wrote it; your content is kept at "
            f"{kept_at}: merge it with theirs and write again, or write elsewhere",
            path=path,
            kept_at=kept_at,
        )

    @classmethod
    def metadata_changed(cls, path: str) -> ConflictError:
        """The file changed since its metadata was read; the metadata was not written."""
        return cls(
            f"{path} changed since you read it, so its metadata was not written: read it "
            "again, reapply your changes and update its metadata",
            path=path,
        )


class BackendError(OctstoreError, OSError):
    """The storage service or the network failed an operation; trying again may succeed."""


class IntegrityError(OctstoreError, OSError):
    """Content did not match the checksum the backend gave for it."""

    @classmethod
    def changed_while_uploaded(cls, source: str, url: str) -> IntegrityError:
        """The local file ``source`` changed while it was uploaded to ``url``, which was
        left as it was."""
        return cls(
            f"{source} changed while it was uploaded to {url}: nothing was written; upload "
            "it again once nothing else is writing it"
        )


class FormatError(OctstoreError, OSError):
    """Content that cannot be read in the format its name says (an ``.h5`` that is not HDF5)."""


class BackendNotInstalledError(OctstoreError, ImportError):
    """The filesystem for a protocol needs an optional extra that is not installed."""


class TransferError(OctstoreError, OSError):
    """Some files of a dataset transfer failed; the others were transferred.

    Attributes:
        report: What was done (a ``TransferReport``).
        failures: The error of each file that failed, by its destination.
    """

    def __init__(
        self,
        message: str,
        *,
        report: object = None,
        failures: dict[str, BaseException] | None = None,
        keywords: Iterable[Keyword] = (),
    ) -> None:
        super().__init__(message, keywords=keywords)
        self.report = report
        self.failures = dict(failures or {})


class UnsafePathError(OctstoreError, ValueError):
    """A key, manifest entry or name that would place a file outside its destination folder
    (``..``, ``~``, an absolute path, a drive letter, a backslash, NUL, ...); nothing was
    written for it.

    Attributes:
        key: The offending key or path, as the source spelled it.
    """

    def __init__(self, message: str, *, key: str = "") -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unsafe, (str(self), self.key))


def _rebuild_unsafe(message: str, key: str) -> UnsafePathError:
    return UnsafePathError(message, key=key)


class FilterError(OctstoreError, ValueError):
    """A lookup that cannot be applied: an unknown action, a malformed name or a bad value."""


class NoSingleMatchError(FilterError, LookupError):
    """``one()`` found no object, or more than one, matching the lookups.

    Attributes:
        count: How many objects matched.
    """

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__(message)
        self.count = count

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_no_single_match, (str(self), self.count))


def _rebuild_no_single_match(message: str, count: int) -> NoSingleMatchError:
    return NoSingleMatchError(message, count=count)


class MissingAttributeError(FilterError, AttributeError):
    """An object has no attribute or key that a lookup or ``order_by`` names.

    Raised when no object of a collection has what a lookup names (a typo, such as
    ``name_icontains`` for ``name__icontains``), for the objects without it when filtering
    with ``ignore_items_without_attribute=False``, and by ``order_by`` for the objects without
    it. Also an ``AttributeError``, as octue raised for an object without the attribute.

    Attributes:
        missing: The objects without it, where the error names them (``order_by``).
        keep: The lookup that keeps only the objects with it (``{"tags__contains": "x"}``),
            where there is one.
    """

    def __init__(
        self,
        *args: object,
        missing: Sequence[object] = (),
        keep: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(*args)
        self.missing = list(missing)
        self.keep = dict(keep) if keep is not None else None


class BrokenSequenceError(FilterError):
    """``order_by`` found a sequence that does not start at ``check_start_value`` or does not
    go up by ``check_constant_increment``.

    Attributes:
        attribute: The attribute ordered by, as given.
        expected: The value the sequence should have had where it broke.
        found: The value it had there (``None`` for a sequence with no objects).
    """

    def __init__(self, message: str, *, attribute: str, expected: object, found: object) -> None:
        super().__init__(message)
        self.attribute = attribute
        self.expected = expected
        self.found = found

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_broken_sequence, (str(self), self.attribute, self.expected, self.found))


def _rebuild_broken_sequence(
    message: str, attribute: str, expected: object, found: object
) -> BrokenSequenceError:
    return BrokenSequenceError(message, attribute=attribute, expected=expected, found=found)
