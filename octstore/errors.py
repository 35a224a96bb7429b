"""The exception hierarchy: every error octstore raises is an :class:`OctstoreError`.

Each error also subclasses the builtin exception a user would already catch
(``ValueError`` for bad input, ``FileNotFoundError`` for a missing object, ...), so
``except FileNotFoundError`` keeps working when a plain path becomes a cloud URL.
Messages name the path concerned and say what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BackendError",
    "BackendNotInstalledError",
    "ConfigError",
    "ConflictError",
    "FormatError",
    "IntegrityError",
    "InvalidHandleError",
    "InvalidLabelError",
    "InvalidMetadataError",
    "InvalidModeError",
    "InvalidPathError",
    "InvalidTagError",
    "NotFoundError",
    "NotWrittenError",
    "OctstoreError",
    "OctstoreWarning",
    "TransferError",
]


class OctstoreError(Exception):
    """Base class of every error raised by octstore."""


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
    long for the metadata files it keeps beside it."""


class InvalidModeError(OctstoreError, ValueError):
    """A file mode that is not one of the builtin ``open`` modes."""


class InvalidHandleError(OctstoreError, ValueError):
    """A string that is not a store handle (``<sha256 hex>/<file name>``)."""


class ConfigError(OctstoreError, ValueError):
    """The configuration (``OCTSTORE_*`` variables, the TOML file) is invalid or lacks a
    named store. Messages never contain secret values."""


class NotFoundError(OctstoreError, FileNotFoundError):
    """The object, file or bucket does not exist."""


class AlreadyExistsError(OctstoreError, FileExistsError):
    """A file opened for exclusive creation (mode ``x``) already exists."""


class AccessDeniedError(OctstoreError, PermissionError):
    """The backend refused the operation: missing credentials, or a read-only location."""


class NotWrittenError(OctstoreError, OSError):
    """Content could not be written; it was kept on local disk, at ``kept_at``.

    Attributes:
        path: The datafile's path.
        kept_at: Where the content that could not be written was kept, if anywhere.
    """

    def __init__(self, message: str, *, path: str = "", kept_at: str | None = None) -> None:
        super().__init__(message)
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
    ) -> None:
        super().__init__(message)
        self.report = report
        self.failures = dict(failures or {})
