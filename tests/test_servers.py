"""The harness's servers behave like the clouds where octstore depends on it."""

from __future__ import annotations

import pytest

from tests.conftest import Backend
from tests.servers import GCS_BUCKET, S3_BUCKET, GcsServer


def test_backend_round_trips_bytes(backend: Backend) -> None:
    url = backend.write("dir/hello.txt", b"hello")

    assert backend.read("dir/hello.txt") == b"hello"
    assert backend.fs.info(url)["size"] == 5


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n", b"\r\r", b"--", b""])
def test_backend_keeps_the_last_bytes_of_content_exactly(backend: Backend, ending: bytes) -> None:
    # The GCS emulator's multipart parser took a last "\r" for a line break, and dropped it.
    content = b"\x00binary\r\n--" + ending

    backend.write("ending.bin", content)

    assert backend.read("ending.bin") == content


def test_backend_roots_are_private_to_each_test(backend: Backend) -> None:
    assert not backend.fs.exists(backend.root) or backend.fs.ls(backend.root) == []


@pytest.mark.timeout(90)
def test_gcs_emulator_serves_500_concurrent_batch_requests(gcs_fs: object) -> None:
    # The stock single-threaded emulator stalls these batch calls for minutes.
    data = {f"{GCS_BUCKET}/many/{i}.txt": f"content {i}".encode() for i in range(500)}

    gcs_fs.pipe(data)  # type: ignore[attr-defined]

    assert gcs_fs.cat(list(data)) == data  # type: ignore[attr-defined]


def test_gcs_emulator_refuses_create_over_an_existing_object(gcs_fs: object) -> None:
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"first", mode="create")  # type: ignore[attr-defined]

    with pytest.raises(FileExistsError):
        gcs_fs.pipe(f"{GCS_BUCKET}/x", b"second", mode="create")  # type: ignore[attr-defined]
    assert gcs_fs.cat(f"{GCS_BUCKET}/x") == b"first"  # type: ignore[attr-defined]


def test_gcs_emulator_enforces_if_generation_match(gcs_fs: object, gcs_server: GcsServer) -> None:
    fs: object = gcs_fs
    fs.pipe(f"{GCS_BUCKET}/x", b"first")  # type: ignore[attr-defined]
    generation = int(fs.info(f"{GCS_BUCKET}/x")["generation"])  # type: ignore[attr-defined]
    url = f"{gcs_server.endpoint_url}/upload/storage/v1/b/{GCS_BUCKET}/o"

    def upload(data: bytes, if_generation_match: int) -> None:
        fs.call(  # type: ignore[attr-defined]
            "POST",
            url,
            uploadType="media",
            name="x",
            data=data,
            ifGenerationMatch=str(if_generation_match),
        )

    with pytest.raises(FileExistsError):  # gcsfs's reading of 412 Precondition Failed
        upload(b"stale", generation + 1)
    fs.invalidate_cache()  # type: ignore[attr-defined]
    assert fs.cat(f"{GCS_BUCKET}/x") == b"first"  # type: ignore[attr-defined]
    upload(b"second", generation)

    fs.invalidate_cache()  # type: ignore[attr-defined]
    assert fs.cat(f"{GCS_BUCKET}/x") == b"second"  # type: ignore[attr-defined]


def test_gcs_emulator_patch_merges_custom_metadata(gcs_fs: object) -> None:
    fs: object = gcs_fs
    fs.pipe(f"{GCS_BUCKET}/x", b"data")  # type: ignore[attr-defined]

    fs.setxattrs(f"{GCS_BUCKET}/x", a="1", b="2")  # type: ignore[attr-defined]
    fs.setxattrs(f"{GCS_BUCKET}/x", b=None, c="3")  # type: ignore[attr-defined]

    fs.invalidate_cache()  # type: ignore[attr-defined]
    assert fs.info(f"{GCS_BUCKET}/x")["metadata"] == {"a": "1", "c": "3"}  # type: ignore[attr-defined]


def test_moto_keeps_user_metadata_and_records_requests(s3fs_fs: object, s3_server: object) -> None:
    fs: object = s3fs_fs
    fs.pipe(f"{S3_BUCKET}/x", b"data", Metadata={"octstore-id": "abc"})  # type: ignore[attr-defined]

    with s3_server.recording() as requests:  # type: ignore[attr-defined]
        metadata = fs.metadata(f"{S3_BUCKET}/x", refresh=True)  # type: ignore[attr-defined]

    assert metadata["octstore-id"] == "abc"
    assert [request["method"] for request in requests] == ["HEAD"]


def test_gcs_emulator_refuses_reads_of_a_generation_no_longer_live(gcs_fs: object) -> None:
    fs: object = gcs_fs
    fs.pipe(f"{GCS_BUCKET}/x", b"first")  # type: ignore[attr-defined]
    first = fs.info(f"{GCS_BUCKET}/x")["generation"]  # type: ignore[attr-defined]
    url = fs.url(f"{GCS_BUCKET}/x", generation=first)  # type: ignore[attr-defined]
    assert fs.call("GET", url)[1] == b"first"  # type: ignore[attr-defined]

    fs.pipe(f"{GCS_BUCKET}/x", b"second")  # type: ignore[attr-defined]

    with pytest.raises(FileNotFoundError):  # GCS without versioning keeps the live one only
        fs.call("GET", url)  # type: ignore[attr-defined]
