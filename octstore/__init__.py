"""octstore: any file, local or in the cloud, as one object.

The public API is what this module exports; everything else may change.
"""

from octstore.__about__ import __version__
from octstore.datafile import Datafile
from octstore.dataset import Dataset
from octstore.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    BackendError,
    BackendNotInstalledError,
    ConflictError,
    FormatError,
    IntegrityError,
    InvalidLabelError,
    InvalidMetadataError,
    InvalidModeError,
    InvalidTagError,
    NotFoundError,
    NotWrittenError,
    OctstoreError,
    TransferError,
)
from octstore.filters import FilterError, FilterList, FilterSet, NoSingleMatchError
from octstore.metadata import LabelSet, Metadata, TagDict
from octstore.transfer import TransferReport

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BackendError",
    "BackendNotInstalledError",
    "ConflictError",
    "Datafile",
    "Dataset",
    "FilterError",
    "FilterList",
    "FilterSet",
    "FormatError",
    "IntegrityError",
    "InvalidLabelError",
    "InvalidMetadataError",
    "InvalidModeError",
    "InvalidTagError",
    "LabelSet",
    "Metadata",
    "NoSingleMatchError",
    "NotFoundError",
    "NotWrittenError",
    "OctstoreError",
    "TagDict",
    "TransferError",
    "TransferReport",
    "__version__",
]
