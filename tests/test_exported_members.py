"""The public API is exactly what octstore/__init__.py exports, in a sorted __all__."""

from __future__ import annotations

import inspect

import octstore
from octstore import errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert octstore.__all__ == sorted(octstore.__all__)
    for name in octstore.__all__:
        assert hasattr(octstore, name), name


def test_every_public_attribute_is_exported() -> None:
    public = {
        name
        for name, value in vars(octstore).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("octstore.")
    }

    assert public <= set(octstore.__all__)


def test_every_error_is_an_octstore_error() -> None:
    errors = [getattr(octstore, name) for name in octstore.__all__ if name.endswith("Error")]

    assert errors
    for error in errors:
        assert issubclass(error, octstore.OctstoreError)


def test_exported_names_have_docstrings() -> None:
    for name in octstore.__all__:
        if name.startswith("__"):
            continue
        assert getattr(octstore, name).__doc__, name


def test_the_attachment_store_is_exported() -> None:
    for name in ("Store", "StoredObject", "GcReport", "InvalidHandleError", "ConfigError"):
        assert name in octstore.__all__, name


def test_every_error_and_warning_class_is_exported() -> None:
    """``octstore.__all__`` is the one list of them: ``octstore.errors`` keeps none of its own."""
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, (errors.OctstoreError, errors.OctstoreWarning))
        and value.__module__ == errors.__name__
    }

    assert defined <= set(octstore.__all__)


def test_the_public_names_of_the_previous_release_are_all_still_exported() -> None:
    previous = [
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

    assert set(previous) <= set(octstore.__all__)
