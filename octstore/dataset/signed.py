"""A dataset shared by one signed URL (``Dataset.generate_signed_url``): a document in the
dataset's root, read-only to whoever holds its URL, naming each file by a signed URL of its
own with its metadata, so that ``Dataset(url)`` loads the dataset, and reads every file, with
no credentials until the URLs expire."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from octstore import signing
from octstore.backends import backend_for
from octstore.backends.sidecar_files import SIGNED_DATASET_PREFIX, SIGNED_DATASET_SUFFIX
from octstore.datafile import Datafile, interface
from octstore.dataset.manifest import Manifest
from octstore.errors import FormatError, OctstoreError
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata

if TYPE_CHECKING:
    from octstore.dataset.dataset import Dataset

__all__ = ["is_signed", "load", "sign"]

#: What marks a signed dataset document, and its format version.
_MARK = "octstore_signed_dataset"


def sign(dataset: Dataset, expiration: timedelta | float, credentials: Any = None) -> str:
    """Carry out :meth:`Dataset.generate_signed_url`."""
    root = dataset._location
    if root is None or root.is_local:
        raise OctstoreError(
            f"the dataset {dataset.name!r} is not in the cloud: upload() it first, then sign it"
        )
    files = []
    for datafile in dataset:
        location = interface.remote_location_of(datafile)
        if location is None:
            raise OctstoreError(
                f"{datafile.path} of the dataset {dataset.name!r} has no cloud copy to sign: "
                "upload() the dataset first"
            )
        described = datafile.to_dict()
        del described["storage_options"]
        files.append(described | {"path": signing.sign(location, expiration, credentials)})
    own = dataset._metadata.model_dump(mode="json")
    document = {_MARK: 1, "id": own["id"], "name": dataset.name}
    document |= {"labels": own["labels"], "tags": own["tags"], "files": files}
    target = root.child(f"{SIGNED_DATASET_PREFIX}{uuid.uuid4().hex}{SIGNED_DATASET_SUFFIX}")
    with translate_errors(target.url, "writing"):
        target.fs.pipe_file(target.fs_path, json.dumps(document).encode("utf-8"))
    return signing.sign(target, expiration, credentials)


def is_signed(root: Location) -> bool:
    """Whether ``root`` may be a signed dataset document's URL (a web URL with a query)."""
    return root.protocol in ("http", "https") and "?" in root.url


def load(root: Location) -> tuple[Manifest, dict[str, Datafile]]:
    """The dataset a signed document describes: its own metadata, and its files at their
    signed URLs with the metadata recorded when it was signed (no request per file).

    Raises:
        FormatError: If ``root`` holds something else.
    """
    with translate_errors(root.url, "reading"):
        data = backend_for(root).read_bytes(root)
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get(_MARK) != 1:
            raise ValueError("not a signed dataset document")
        manifest = Manifest.model_validate(_own(document))
        files = {}
        for entry in document["files"]:
            location = Location(entry["path"])
            if not is_signed(location):  # never a local path, or a bucket by credentials
                raise ValueError(f"a file entry is not a signed URL: {location.url}")
            metadata = Metadata.model_validate({k: entry.get(k) for k in _FIELDS if k in entry})
            files[location.url] = interface.assemble(location, metadata, None)
    except (ValueError, KeyError, TypeError) as error:
        raise FormatError(
            f"{root.url} is not a dataset's signed URL ({error}): give the URL that "
            "generate_signed_url() returned, or name the files, Dataset(files=[url, ...])"
        ) from None
    return manifest, files


_FIELDS = ("id", "timestamp", "labels", "tags")


def _own(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document.get(key) for key in ("id", "name", "labels", "tags")}
