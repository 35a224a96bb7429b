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
    BucketNotFoundError,
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
from octstore.filters import (
    BrokenSequenceError,
    Filterable,
    FilterDict,
    FilterError,
    FilterList,
    FilterSet,
    MissingAttributeError,
    NoSingleMatchError,
)
from octstore.metadata import LabelSet, Metadata, TagDict
from octstore.store import GcReport, Store, StoredObject

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BackendError",
    "BackendNotInstalledError",
    "BrokenSequenceError",
    "BucketNotFoundError",
    "ConfigError",
    "ConflictError",
    "Datafile",
    "Dataset",
    "FilterDict",
    "FilterError",
    "FilterList",
    "FilterSet",
    "Filterable",
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
    "MissingAttributeError",
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
