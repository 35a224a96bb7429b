"""Signed URLs of datafiles and datasets (issue 19): fsspec's ``sign``, and a ``Datafile`` or
``Dataset`` made from such an https URL reads content and metadata with no credentials and
refuses writes. On S3 (moto) and Azure (Azurite: a SAS URL) the content is fetched through the
URL; the GCS emulator checks neither signatures nor expiry, so there the URL's form and expiry
are checked too."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from octstore import (
    AccessDeniedError,
    Datafile,
    Dataset,
    FormatError,
    InvalidArgumentError,
    OctstoreError,
    OctstoreWarning,
)
from tests.conftest import Backend

CLOUD = ["s3", "gcs", "az"]


def service_account() -> Any:
    """Credentials of a service account made for the test: a new RSA key, so GCS URLs can
    be signed without Google."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account as accounts

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "octstore-test",
        "private_key_id": "test",
        "private_key": pem,
        "client_email": "signer@octstore-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return accounts.Credentials.from_service_account_info(info)


def signer(backend: Backend) -> dict[str, Any]:
    return {"credentials": service_account()} if backend.name == "gcs" else {}


def written(backend: Backend, name: str = "data.csv", content: str = "hello") -> Datafile:
    datafile = Datafile(
        backend.url(name), storage_options=backend.storage_options, labels=["raw"], tags={"k": 1}
    )
    with datafile.open("w") as f:
        f.write(content)
    return datafile


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_signed_url_reads_the_content_and_metadata_with_no_credentials(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = written(backend).generate_signed_url(timedelta(hours=1), **signer(backend))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)

    with Datafile(url) as (datafile, f):
        assert f.read() == "hello"

    assert (datafile.name, datafile.extension) == ("data.csv", "csv")
    assert (datafile.labels, datafile.tags) == ({"raw"}, {"k": 1})
    assert "Signature" not in repr(datafile) + str(datafile).replace("Signature=***", "")


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_datafile_from_a_signed_url_refuses_writes(backend: Backend) -> None:
    url = written(backend).generate_signed_url(60, **signer(backend))

    with pytest.raises(AccessDeniedError, match="read-only"), Datafile(url, mode="w") as (_, f):
        f.write("not allowed")

    assert backend.read("data.csv") == b"hello"


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_signed_url_expires_when_asked(backend: Backend) -> None:
    before = time.time()

    url = written(backend).generate_signed_url(timedelta(minutes=30), **signer(backend))

    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    if backend.name == "az":  # a SAS: its expiry (se) to the second, its signature (sig)
        expires = datetime.fromisoformat(query["se"].replace("Z", "+00:00")).timestamp()
        query["Expires"], query["Signature"] = str(int(expires)), query["sig"]
    assert before + 1800 - 5 <= int(query["Expires"]) <= time.time() + 1800 + 5
    assert query["Signature"]
    if backend.name == "gcs":
        assert query["GoogleAccessId"] == "signer@octstore-test.iam.gserviceaccount.com"
    assert urlsplit(url).path.endswith("/data.csv")


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_local_file_signs_its_cloud_copy(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("local")
    datafile = Datafile(tmp_path / "a.csv")
    with pytest.raises(OctstoreError, match=r"upload\(cloud_path\) it first"):
        datafile.generate_signed_url()

    datafile.upload(backend.url("a.csv"), storage_options=backend.storage_options)

    with Datafile(datafile.generate_signed_url(60)).open() as f:
        assert f.read() == "local"


def test_a_filesystem_without_signed_urls_says_so() -> None:
    datafile = Datafile("memory://octstore-test/signing/a.csv")
    with datafile.open("w") as f:
        f.write("x")

    with pytest.raises(OctstoreError, match="cannot be signed"):
        datafile.generate_signed_url()


@pytest.mark.parametrize("expiration", [0, -5, timedelta(seconds=-1), "soon"])
def test_an_expiration_in_the_past_is_refused(expiration: Any) -> None:
    datafile = Datafile("memory://octstore-test/signing/b.csv")
    with datafile.open("w") as f:
        f.write("x")

    with pytest.raises(InvalidArgumentError, match="expiration"):
        datafile.generate_signed_url(expiration)


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_signed_dataset_loads_and_reads_with_no_credentials(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    written(backend, "a.csv", "one")
    written(backend, "sub/b.csv", "two")
    dataset = Dataset(backend.root, storage_options=backend.storage_options, tags={"k": "v"})
    dataset.update_metadata()

    url = dataset.generate_signed_url(timedelta(hours=1), **signer(backend))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    shared = Dataset(url)

    assert (shared.id, shared.name, shared.tags) == (dataset.id, dataset.name, {"k": "v"})
    assert sorted(df.name for df in shared) == ["a.csv", "b.csv"]
    with shared.files.one(name="b.csv") as (datafile, f):
        assert f.read() == "two"
    assert datafile.labels == {"raw"}


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_signing_a_dataset_leaves_its_listing_as_it_was(backend: Backend) -> None:
    written(backend, "a.csv")
    dataset = Dataset(backend.root, storage_options=backend.storage_options)

    dataset.generate_signed_url(60, **signer(backend))

    again = Dataset(backend.root, storage_options=backend.storage_options)
    assert [df.name for df in again] == ["a.csv"]


def test_a_local_dataset_cannot_be_signed(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    with pytest.raises(OctstoreError, match="upload"):
        Dataset(tmp_path).generate_signed_url()


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_signed_url_of_an_empty_file_reads_as_empty(backend: Backend) -> None:
    url = written(backend, "empty.csv", "").generate_signed_url(60, **signer(backend))

    with Datafile(url).open() as f:
        assert f.read() == ""
    assert Datafile(url).size == 0


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_metadata_a_signed_url_cannot_reach_is_said_so(backend: Backend) -> None:
    datafile = written(backend)
    datafile.tags["notes"] = "x" * 3000  # beyond S3's 2 KB: spills into a sidecar object
    datafile.update_metadata()
    url = datafile.generate_signed_url(60)

    with pytest.warns(OctstoreWarning, match="sidecar object"):
        shared = Datafile(url)

    assert shared.id == datafile.id


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_signing_errors_are_octstore_errors(backend: Backend) -> None:
    datafile = written(backend)

    with pytest.raises(OctstoreError, match="GCS only"):
        datafile.generate_signed_url(60, credentials=object())
    with pytest.raises(InvalidArgumentError):
        datafile.generate_signed_url(float("nan"))


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_signed_dataset_document_naming_anything_but_signed_urls_is_refused(
    backend: Backend, tmp_path: Path
) -> None:
    written(backend, "a.csv")
    url = Dataset(backend.root, storage_options=backend.storage_options).generate_signed_url(
        60, **signer(backend)
    )
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    document = json.loads(backend.read(name))
    document["files"][0]["path"] = str(tmp_path / "secret.txt")
    backend.write(name, json.dumps(document).encode())

    with pytest.raises(FormatError, match="not a signed URL"):
        Dataset(url)
