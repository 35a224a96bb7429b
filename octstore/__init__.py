"""octstore: any file, local or in the cloud, as one object.

The public API is what this module exports; everything else may change.
"""

from octstore.__about__ import __version__
from octstore.datafile import Datafile
from octstore.dataset import Dataset
from octstore.dataset.transfer import TransferReport
from octstore.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    BackendError,
    BackendNotInstalledError,
    ConfigError,
    ConflictError,
    FormatError,
    IntegrityError,
    InvalidArgumentError,
    InvalidHandleError,
    InvalidLabelError,
    InvalidMetadataError,
    InvalidModeError,
    InvalidPathError,
    InvalidTagError,
    NotFoundError,
    NotWrittenError,
    OctstoreError,
    OctstoreWarning,
    TransferError,
    UnsafePathError,
)
from octstore.filters import FilterError, FilterList, FilterSet, NoSingleMatchError
from octstore.metadata import LabelSet, Metadata, TagDict
from octstore.store import GcReport, Store, StoredObject

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BackendError",
    "BackendNotInstalledError",
    "ConfigError",
    "ConflictError",
    "Datafile",
    "Dataset",
    "FilterError",
    "FilterList",
    "FilterSet",
    "FormatError",
    "GcReport",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidHandleError",
    "InvalidLabelError",
    "InvalidMetadataError",
    "InvalidModeError",
    "InvalidPathError",
    "InvalidTagError",
    "LabelSet",
    "Metadata",
    "NoSingleMatchError",
    "NotFoundError",
    "NotWrittenError",
    "OctstoreError",
    "OctstoreWarning",
    "Store",
    "StoredObject",
    "TagDict",
    "TransferError",
    "TransferReport",
    "UnsafePathError",
    "__version__",
]
