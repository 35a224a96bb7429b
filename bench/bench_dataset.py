"""Scenarios 1, 2, 3 and 5, on one 1,000-file dataset (16 KiB files with labels and tags), on
GCS, S3 and Azure (Azurite), each writing its own result file:

1. ``load.json``: load the dataset with its metadata and filter it by a label and a tag;
2. ``download.json``: download it into an empty directory;
3. ``upload.json``: upload it from a local directory to a new prefix;
5. ``metadata.json``: update the metadata of 100 of its files without content transfer.

The systems, side by side:

- octstore, as its docs show: ``Dataset(url).files.filter(labels__contains="raw",
  tags__site="north")``; ``dataset.download(directory)`` (each file with its metadata as a
  sidecar, verified against its CRC32C, and the manifest); ``Dataset(directory).upload(url)``
  (each file in one request carrying its metadata, then the manifest);
  ``datafile.tags[...] = ...; datafile.update_metadata()``.
- raw fsspec (gcsfs, s3fs, adlfs), the floor: ``fs.find(prefix, detail=True)`` with the
  metadata decoded and filtered in a comprehension (GCS and Azure listings carry the
  metadata; on S3 it takes a ``HeadObject`` per file, all at once through ``fs._metadata``);
  one batch call ``fs.get(remote_paths, local_paths)`` / ``fs.put(local_paths, remote_paths)``
  (content only: a batch call cannot give each file its own metadata); ``fs.setxattrs`` (GCS:
  one PATCH), ``fs.setxattr(path, copy_kwargs={})`` (S3: a HEAD and a copy) or, on Azure,
  ``fs.setxattrs`` with the metadata ``fs.info`` read (it replaces all of it: a HEAD and a
  PUT), writing the same key.
- octue (GCS): ``Dataset(path=url).files.filter(...)``, ``dataset.download(directory)``,
  ``Dataset(path=directory, files=...)`` with labels and tags then ``dataset.upload(url)``,
  ``datafile.update_metadata()`` (see ``peers/octue_worker.py``).
- cloudpathlib (S3): ``S3Path(url).download_to(directory)``, ``S3Path(url).upload_from(directory)``.
  It has no metadata of its own, so it takes no part in scenarios 1 and 5.

octstore and fsspec are measured first, one after the other, 5 runs each after a warm-up;
then the peers, which take up to minutes a run, each 3 runs (octue) or 1 (cloudpathlib), octue
and cloudpathlib at the same time (on different servers and proxies) and nothing else then.

Targets: (1) >= 20x faster than octue, <= 3 requests with a manifest; (2), (3) within 1.1x
of raw fsspec (issue 18), >= 5x faster than octue; (5) 0 content bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import (
    FILES,
    LABEL,
    RUNS,
    TAG,
    Cloud,
    OctuePeer,
    add_ratios,
    cloudpathlib_client,
    data_only_copy,
    file_metadata,
    fresh_dir,
    make_local_dataset,
    measure,
    octue_peer,
    put_dataset,
    ratio_target,
    relative_names,
    unique,
    write_result,
)

#: octue and cloudpathlib take from seconds to a minute or two a run (one file after another,
#: or a few at a time); fewer runs keep all benchmarks under 25 minutes on 2 cores. octue's
#: load takes ~1 minute a run, 2 runs differ by a few percent, and it is 200x octstore's.
OCTUE_RUNS = 3
OCTUE_LOAD_RUNS = 2
CLOUDPATHLIB_RUNS = 1
#: Runs of a few seconds or more have no warm-up run (it would add minutes in all): each
#: client makes one request first instead, so that its connections and sessions exist.
LONG = {"warmup": False}
#: Issue 18: a dataset download or upload takes at most this times raw fsspec's time.
FSSPEC_FACTOR = 1.1
#: Files whose metadata scenario 5 updates.
METADATA_COUNT = 100
#: A new tag value for each run of each system in scenario 5.
values = itertools.count()


class Bench:
    """The servers, the dataset on both backends, and what each system measured."""

    def __init__(self, cloud: Cloud, runs: int = RUNS) -> None:
        self.cloud = cloud
        self.backends = cloud.backends
        #: Runs of each octstore and fsspec transfer.
        self.runs = runs
        self.local = make_local_dataset()
        self.bare = data_only_copy(self.local)
        self.names = relative_names()
        self.urls = {
            backend: put_dataset(cloud, backend, self.local, "dataset") for backend in self.backends
        }
        # One filesystem per backend for fsspec, and one request each, through the proxy.
        self.fs = {backend: cloud.fs(backend) for backend in self.backends}
        for backend, fs in self.fs.items():
            fs.ls(self.urls[backend])
        self.systems: dict[str, dict[str, dict[str, Any]]] = {
            scenario: {backend: {} for backend in self.backends}
            for scenario in ("load", "download", "upload", "metadata")
        }

    def record(self, scenario: str, backend: str, system: str, measured: dict[str, Any]) -> None:
        self.systems[scenario][backend][system] = measured

    def remote(self, backend: str) -> list[str]:
        return [f"{self.urls[backend]}/{name}" for name in self.names]

    # --- octstore and fsspec ----------------------------------------------------------------

    def load(self, backend: str) -> None:
        url, proxy, options = (
            self.urls[backend],
            self.cloud.proxies[backend],
            self.cloud.options(backend),
        )
        self.record(
            "load", backend, "octstore", measure(lambda: octstore_load(url, options), proxy)
        )
        fs = self.fs[backend]
        self.record(
            "load",
            backend,
            "fsspec",
            # On S3 a run is 1,000 HEADs: seconds.
            measure(
                lambda: fsspec_load(fs, backend, url), proxy, **(LONG if backend == "s3" else {})
            ),
        )
        if backend == "gcs":
            # For scale: without the manifest (on GCS the listing carries the metadata anyway;
            # on S3 it takes the fsspec floor's HEADs).
            direct = self.cloud.fs(backend, direct=True)
            manifest = f"{url}/.octstore-dataset.json"
            saved = direct.cat_file(manifest)
            direct.rm(manifest)
            self.record(
                "load",
                backend,
                "octstore (no manifest)",
                measure(lambda: octstore_load(url, options), proxy),
            )
            direct.pipe_file(manifest, saved)

    def download(self, backend: str) -> None:
        from octstore import Dataset

        url, proxy, options = (
            self.urls[backend],
            self.cloud.proxies[backend],
            self.cloud.options(backend),
        )
        fs = self.fs[backend]
        remote = self.remote(backend)
        self.record(
            "download",
            backend,
            "octstore",
            measure(
                lambda loaded: loaded[0].download(loaded[1]),
                proxy,
                # A dataset just loaded, as a user has it: each file's state is fresh from
                # the listing, so its download needs no revalidation request.
                setup=lambda: (Dataset(url, storage_options=options), fresh_dir("octstore")),
                runs=self.runs,
                **LONG,
            ),
        )
        self.record(
            "download",
            backend,
            "fsspec",
            measure(
                lambda target: fs.get(remote, [os.path.join(target, n) for n in self.names]),
                proxy,
                setup=lambda: fresh_dir("fsspec"),
                runs=self.runs,
                **LONG,
            ),
        )

    def upload(self, backend: str) -> None:
        from octstore import Dataset

        proxy, options = self.cloud.proxies[backend], self.cloud.options(backend)
        fs = self.fs[backend]
        self.record(
            "upload",
            backend,
            "octstore",
            measure(
                lambda job: job[0].upload(job[1], storage_options=options),
                proxy,
                setup=lambda: (Dataset(self.local), self.prefix(backend, "octstore")),
                runs=self.runs,
                **LONG,
            ),
        )
        self.record(
            "upload",
            backend,
            "fsspec",
            measure(
                lambda url: fs.put(
                    [os.path.join(self.local, name) for name in self.names],
                    [f"{url}/{name}" for name in self.names],
                ),
                proxy,
                setup=lambda: self.prefix(backend, "fsspec"),
                runs=self.runs,
                **LONG,
            ),
        )

    def prefix(self, backend: str, system: str) -> str:
        return self.cloud.url(backend, unique(f"upload-{system}"))

    def metadata(self, backend: str) -> None:
        from octstore import Dataset

        dataset = Dataset(self.urls[backend], storage_options=self.cloud.options(backend))
        datafiles = sorted(dataset, key=lambda datafile: datafile.name)[:METADATA_COUNT]
        fs = self.fs[backend]

        def octstore_update() -> None:
            value = next(values)
            for datafile in datafiles:
                datafile.tags["reviewed"] = value
                datafile.update_metadata()

        def fsspec_update() -> None:
            value = next(values)
            for datafile in datafiles:
                tags = json.dumps({**datafile.tags, "reviewed": value})
                if backend == "gcs":
                    fs.setxattrs(datafile.path, **{"octstore-tags": tags})
                elif backend == "az":  # Set Blob Metadata replaces all of it
                    stored = fs.info(datafile.path, refresh=True)["metadata"]
                    fs.setxattrs(datafile.path, **{**stored, "octstore_tags": tags})
                else:
                    fs.setxattr(datafile.path, copy_kwargs={}, **{"octstore-tags": tags})

        proxy = self.cloud.proxies[backend]
        self.record("metadata", backend, "octstore", measure(octstore_update, proxy, **LONG))
        self.record("metadata", backend, "fsspec", measure(fsspec_update, proxy, **LONG))

    # --- the peers --------------------------------------------------------------------------

    def octue(self, octue: OctuePeer) -> None:
        """octue's four scenarios, one after another, on GCS."""
        url, proxy = self.urls["gcs"], self.cloud.proxies["gcs"]

        def timed(answer: dict[str, Any]) -> float:
            return float(answer["seconds"])

        peer = {"runs": OCTUE_RUNS, "warmup": False, "timed": timed}
        answers: list[dict[str, Any]] = []

        def load() -> dict[str, Any]:
            answers.append(octue.call("load", url=url, label=LABEL, tag=list(TAG)))
            return answers[-1]

        self.record(
            "load", "gcs", "octue", measure(load, proxy, **{**peer, "runs": OCTUE_LOAD_RUNS})
        )
        expected = octstore_load(url, self.cloud.options("gcs"))
        if {answer["matches"] for answer in answers} != {expected}:
            raise AssertionError(f"octue found {answers[-1]['matches']} files, octstore {expected}")
        self.record(
            "download",
            "gcs",
            "octue",
            measure(
                lambda target: octue.call("download", url=url, directory=target),
                proxy,
                setup=lambda: fresh_dir("octue"),
                **peer,
            ),
        )
        metadata = {name: file_metadata(i) for i, name in enumerate(self.names)}
        self.record(
            "upload",
            "gcs",
            "octue",
            measure(
                lambda target: octue.call(
                    "upload", directory=self.local, url=target, files=metadata
                ),
                proxy,
                setup=lambda: self.prefix("gcs", "octue"),
                **peer,
            ),
        )
        self.record(
            "metadata",
            "gcs",
            "octue",
            measure(
                lambda: octue.call(
                    "update_metadata", url=url, count=METADATA_COUNT, tag=["reviewed", next(values)]
                ),
                proxy,
                **peer,
            ),
        )
        for scenario in ("load", "download", "upload", "metadata"):
            self.systems[scenario]["gcs"]["octue"]["version"] = octue.version

    def cloudpathlib(self) -> None:
        """cloudpathlib's two scenarios on S3."""
        from cloudpathlib import S3Path

        url, proxy = self.urls["s3"], self.cloud.proxies["s3"]
        client = cloudpathlib_client(self.cloud)
        peer = {"runs": CLOUDPATHLIB_RUNS, "warmup": False}
        self.record(
            "download",
            "s3",
            "cloudpathlib",
            measure(
                lambda target: S3Path(url, client=client).download_to(target),
                proxy,
                setup=lambda: fresh_dir("cloudpathlib"),
                **peer,
            ),
        )
        self.record(
            "upload",
            "s3",
            "cloudpathlib",
            measure(
                lambda target: S3Path(target, client=client).upload_from(self.bare),
                proxy,
                setup=lambda: self.prefix("s3", "cloudpathlib"),
                **peer,
            ),
        )


def octstore_load(url: str, options: dict[str, Any]) -> int:
    from octstore import Dataset

    dataset = Dataset(url, storage_options=options)
    return len(dataset.files.filter(labels__contains=LABEL, **{f"tags__{TAG[0]}": TAG[1]}))


def fsspec_load(fs: Any, backend: str, url: str) -> int:
    from fsspec.asyn import sync

    fs.invalidate_cache()
    infos = fs.find(url, detail=True)
    names = [name for name in infos if not name.rsplit("/", 1)[-1].startswith(".")]
    if backend == "gcs":
        metadata = [infos[name].get("metadata") or {} for name in names]
    elif backend == "az":  # Azure's keys: octstore_labels, octstore_tags
        metadata = [
            {key.replace("_", "-"): value for key, value in (infos[name]["metadata"] or {}).items()}
            for name in names
        ]
    else:

        async def heads() -> list[dict[str, str]]:
            return list(await asyncio.gather(*(fs._metadata(name) for name in names)))

        metadata = sync(fs.loop, heads)
    return sum(
        1
        for keys in metadata
        if LABEL in json.loads(keys.get("octstore-labels", "[]"))
        and json.loads(keys.get("octstore-tags", "{}")).get(TAG[0]) == TAG[1]
    )


# --- results ------------------------------------------------------------------------------

COMMON_NOTES = [
    f"{FILES} files of 16 KiB in 10 directories, each with labels and tags.",
    f"octue: {OCTUE_RUNS} runs ({OCTUE_LOAD_RUNS} for the load), cloudpathlib: "
    f"{CLOUDPATHLIB_RUNS} (a minute or more a run: one file after another, or a few at a "
    "time); they ran at the same time as each other (different servers and proxies), with "
    "nothing else.",
    "Runs of several seconds (transfers, metadata updates, fsspec's load on S3, the peers) "
    "have no warm-up run: each client made a request before.",
]


def results(bench: Bench, latency: float) -> dict[str, dict[str, Any]]:
    for scenarios in bench.systems.values():
        for systems in scenarios.values():
            add_ratios(systems)
    systems = bench.systems
    common = {"latency_s": latency, "runs": RUNS}
    load_targets = []
    if "octue" in systems["load"]["gcs"]:
        load_targets.append(
            ratio_target(
                "gcs: >= 20x faster than octue",
                systems["load"]["gcs"]["octue"]["ratio"],
                at_least=20,
            )
        )
    for backend, measured in systems["load"].items():
        requests = measured["octstore"]["requests"]
        load_targets.append(
            {
                "target": f"{backend}: <= 3 requests with a manifest",
                "measured": f"{requests} requests",
                "met": requests <= 3,
                "shortfall": f"{requests - 3} requests over",
            }
        )
    metadata_targets = []
    for backend, measured in systems["metadata"].items():
        octstore = measured["octstore"]
        metadata_targets.append(
            {
                "target": f"{backend}: 0 content bytes",
                "measured": f"{octstore['content_bytes']} bytes ({octstore['requests']} requests, "
                f"{octstore['bytes_up'] + octstore['bytes_down']} bytes of metadata)",
                "met": octstore["content_bytes"] == 0,
                "shortfall": f"{octstore['content_bytes']} content bytes transferred",
            }
        )
    return {
        "load": {
            "scenario": "1. Load a 1,000-file dataset with metadata; filter by a label and a tag",
            **common,
            "notes": [
                *COMMON_NOTES,
                f"Filter: label {LABEL!r} and tag {TAG[0]}={TAG[1]!r}.",
                "octue reads the same objects without octstore's manifest (it would take it "
                "for one of the dataset's files).",
                "octstore without a manifest is measured on GCS only: on S3 it makes the same "
                "1,000 HEADs as the fsspec floor.",
            ],
            "systems": systems["load"],
            "targets": load_targets,
        },
        "download": transfer_result(
            "2. Download the dataset",
            systems["download"],
            common,
            [
                "The dataset is loaded before each run, untimed (scenario 1 times that). fsspec is "
                "given the lists of paths, and its filesystem has listed the dataset (scenario "
                "1), so it makes one request per file, as octstore does.",
            ],
        ),
        "upload": transfer_result(
            "3. Upload the dataset",
            systems["upload"],
            common,
            [
                "Each run uploads to a new prefix. fsspec and cloudpathlib upload content only.",
            ],
        ),
        "metadata": {
            "scenario": "5. Update the metadata of 100 files without content transfer",
            **common,
            "notes": [
                *COMMON_NOTES,
                f"{METADATA_COUNT} files, updated one after another (a loop in user code); a new "
                "tag value each run.",
                "No update may be lost to a concurrent one (issue 16): on S3, where a "
                "metadata-only change keeps the ETag, each octstore update takes the key's "
                "lease, so it costs 4 requests (lease, HEAD, copy, release) where fsspec's "
                "unguarded setxattr costs 2 (HEAD, copy); on GCS the metageneration "
                "precondition costs nothing more (1 PATCH each), nor on Azure the ETag's "
                "(1 Set Blob Metadata under If-Match each, where adlfs's unguarded setxattrs, "
                "which replaces all metadata, needs the HEAD before it).",
            ],
            "systems": systems["metadata"],
            "targets": metadata_targets,
        },
    }


def transfer_result(
    scenario: str, systems: dict[str, dict[str, Any]], common: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    """A transfer scenario's result, with its targets: within 1.1x of raw fsspec (issue 18)
    and >= 5x faster than octue."""
    targets = [
        ratio_target(
            f"{backend}: time within {FSSPEC_FACTOR:g}x of raw fsspec's",
            1 / measured["fsspec"]["ratio"],
            at_most=FSSPEC_FACTOR,
        )
        for backend, measured in systems.items()
    ]
    if "octue" in systems["gcs"]:
        targets.append(
            ratio_target(
                "gcs: >= 5x faster than octue", systems["gcs"]["octue"]["ratio"], at_least=5
            )
        )
    return {
        "scenario": scenario,
        **common,
        "notes": [*COMMON_NOTES, *notes],
        "systems": systems,
        "targets": targets,
    }


def main() -> None:
    with Cloud(backends=(*Cloud.BACKENDS, "az")) as cloud, octue_peer(cloud) as octue:
        started = time.perf_counter()
        bench = Bench(cloud)
        print(f"set-up: {time.perf_counter() - started:.0f} s", flush=True)
        for phase in (bench.load, bench.download, bench.upload, bench.metadata):
            for backend in bench.backends:
                started = time.perf_counter()
                phase(backend)
                print(
                    f"{phase.__name__} {backend}: {time.perf_counter() - started:.0f} s", flush=True
                )
        # octue would take octstore's manifest for one of the dataset's files: peers see the
        # same objects without it.
        cloud.fs("gcs", direct=True).rm(f"{bench.urls['gcs']}/.octstore-dataset.json")
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as peers:
            running = [peers.submit(bench.cloudpathlib)]
            if octue is not None:
                running.append(peers.submit(bench.octue, octue))
            for future in running:
                future.result()
        print(f"peers: {time.perf_counter() - started:.0f} s", flush=True)
        for name, result in results(bench, cloud.latency).items():
            write_result(name, result)


if __name__ == "__main__":
    main()
