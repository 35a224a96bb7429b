"""Datasets work with dask.distributed: datafiles are pickled to worker processes, which
read their content through the shared cache."""

from __future__ import annotations

import os

import pytest

from octstore import Datafile, Dataset, cache
from octstore.hashing import crc32c_bytes
from tests import workers
from tests.conftest import Backend


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["local", "s3", "gcs", "az"], indirect=True)
def test_a_function_runs_over_a_datasets_files_on_dask_worker_processes(
    backend: Backend,
) -> None:
    from distributed import Client, LocalCluster

    contents = {f"f{i}.bin": os.urandom(1000 + i) for i in range(6)}
    for name, data in contents.items():
        with Datafile(backend.url(name), storage_options=backend.storage_options).open("wb") as f:
            f.write(data)
    dataset = Dataset(backend.root, storage_options=backend.storage_options)
    cache.clear()  # whatever is cached afterwards, the workers fetched

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        results = client.gather(client.map(workers.read_in_worker, list(dataset.files)))

    assert sorted((name, value) for _, name, value in results) == sorted(
        (name, crc32c_bytes(data)) for name, data in contents.items()
    )
    assert os.getpid() not in {pid for pid, _, _ in results}
    assert cache.info().entries == (0 if backend.name == "local" else len(contents))
