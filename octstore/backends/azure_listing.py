"""Listing an Azure container's blobs under a prefix, with their metadata, in as few
requests as Azure allows (adlfs's ``find`` first asks whether the prefix is itself a blob)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octstore.location import Location


async def list_blobs(location: Location, *, recursive: bool) -> dict[str, dict[str, Any]]:
    """The blobs under the prefix ``location`` (a folder), with their metadata, as fsspec
    infos by path: one request per 5,000 blobs. (adlfs's ``find`` first asks whether the
    prefix is itself a blob: a HEAD more.) Folder markers are left out."""
    container, _, prefix = location.fs_path.partition("/")
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    client = location.fs.service_client.get_container_client(container)
    if recursive:
        blobs = client.list_blobs(name_starts_with=prefix, include=["metadata"])
    else:
        blobs = client.walk_blobs(name_starts_with=prefix, include=["metadata"], delimiter="/")
    infos: dict[str, dict[str, Any]] = {}
    async for blob in blobs:
        metadata = blob.get("metadata") or {}
        if not hasattr(blob, "etag") or blob.name.endswith("/") or _is_folder(metadata):
            continue  # a BlobPrefix (a subfolder), or a folder's marker
        settings = blob.content_settings
        infos[f"{container}/{blob.name}"] = {
            "name": f"{container}/{blob.name}",
            "type": "file",
            "size": blob.size,
            "etag": blob.etag,
            "metadata": metadata,
            "content_settings": {
                "content_md5": settings.content_md5,
                "content_type": settings.content_type,
            },
        }
    return infos


def _is_folder(metadata: Mapping[str, str]) -> bool:
    """Whether a blob's metadata marks it as a folder (adlfs's and Data Lake's markers)."""
    lowered = {key.lower(): value for key, value in metadata.items()}
    return "true" in (lowered.get("is_directory"), lowered.get("hdi_isfolder"))
