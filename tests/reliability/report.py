"""Render the docs page ``docs/reliability.md`` from the reliability suite's figures.

The suite writes ``tests/reliability/figures.json`` and this page at the end of a complete,
passing run (see ``conftest.py``). To render the page again from the JSON alone::

    python -m tests.reliability.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PAGE = HERE.parent.parent / "docs" / "reliability.md"

INTRO = """\
# Reliability

A storage library is trusted only if it never silently loses or corrupts data. octstore's
test suite has a part that tries hard to make it do so, `tests/reliability/`, and this page
shows what its latest run tried and found. The figures below are written by that run (this
page is generated from `tests/reliability/figures.json`; do not edit it by hand).

```console
python3 -m nox -s tests                                 # everything, this part included
python3 -m nox -s tests -- tests/reliability            # this part only: the fast variants
python3 -m nox -s tests -- tests/reliability -m slow    # the long soak variants
```

The soak variants (`@pytest.mark.slow`) run the same checks many times longer, with other
seeds; the default run leaves them out (`-m "not slow"` in the pytest settings).
"""

METHOD = """\
## What is tried, and what must hold

**Faults on the wire.** A loopback proxy in front of the S3 server (moto) and the GCS
emulator fails a tenth of all requests, drawn from a seeded generator: it drops the
connection before the server sees the request, cuts the response body in half, answers 500
or 503, or lets the server act and then loses the response (so a retried write meets its own
first attempt). Through it, octstore writes, overwrites and appends to files, updates their
metadata, reads them uncached, downloads and uploads them, and uploads, loads, downloads and
caches whole datasets; it adds attachments to a `Store`, fetches them, serves them over HTTP
and collects garbage. After every operation, checks made straight against the server and
the disk (not through the proxy, nor through octstore) require that it either succeeded and
left exactly its new content and metadata, or raised an `OctstoreError` and left the old state
or the new, content and metadata together; that no cache entry holds bytes its recorded
CRC32C does not match; and that no temp file is left behind. One variant turns botocore's
retries off, so that faults become errors that must be clear.

**Crashes.** Real processes are killed with SIGKILL while they write files back, download
into the cache, upload datasets and download them, and while they run `Store.gc` and
`Store.add`: after random, seeded delays, and at each
instrumented step (right after each rename, removal or file write). What octstore then reads,
and what the storage holds, must be the state before the interrupted operation or after it;
and the next run must work with no manual cleanup: a write succeeds (no stale lock), reads
get whole files, `cache.prune()` removes what interrupted downloads left, and no temp file
shows up as a dataset's file.

**Races.** Processes (threads for `memory://`) read one object and write it at the same
moment: one wins, each other gets a `ConflictError` keeping its content where it says.
Four processes add their own label to one file at the same moment, twenty rounds on each
backend: every label lands. One process writes new content (with a tag) while three add
labels, twenty rounds: the content, the tag and every label that was acknowledged land.
Two processes append to one local file and label it twenty times each, one through a
symbolically linked directory, each with a cache directory of its own: every append and
every label is there, once. Processes update the
sidecars of the files of one directory while a manifest is written there again and again:
every update arrives. Sixteen readers open one uncached object: all get it whole, from one
download.

**Hostile input.** Malformed URLs and unknown protocols; labels and tags with look-alike
letters, control characters, NaN, values JSON cannot hold and values that hold themselves;
invalid timestamps; metadata beyond a backend's limits; header injection through metadata;
paths that climb out of a dataset; unknown storage options; truncated and garbage manifests,
sidecars, object metadata, octue files and cache records. Refused input must raise an
`OctstoreError` and change nothing; garbage metadata is ignored with a warning and never stops
a dataset loading.

**Secrets.** With credentials in `storage_options` and in the environment, no credential
value may appear in a repr, `to_dict`, a manifest, a sidecar, the cache, a warning, the logs,
the command line's output (tracebacks included, `octstore store` too), an exception, a
`Store`'s or the configuration's repr and `to_dict`.

**State machines.** hypothesis drives any sequence of label, tag and timestamp edits (and
invalid ones), metadata updates, content writes, reloads and dataset loads on each backend;
after every step the datafile agrees with a plain model.
"""

GUARANTEES = """\
## Guarantees, and how each is tested

**No metadata update is lost.** A metadata update is a set of changes — labels added and
removed, tags set and removed, the timestamp set — made to the metadata the datafile read.
When it is written, octstore applies those changes to the metadata stored *at that moment*,
under a lock, a lease or a precondition, so that two processes adding different labels both
keep theirs, and a content write-back carries the writer's metadata changes the same way
instead of the metadata it read when it opened the file. Content changed by someone else
since it was read is still a `ConflictError`, with the new content kept on disk.

| backend | how writers of one file take turns | extra requests |
|---|---|---|
| local | a lock file beside the data, `.<name>.octstore-lock`, named after the real path | none |
| `memory://` | a lock in the process | none |
| GCS | generation and metageneration preconditions; changes re-applied on a mismatch | none |
| S3 | a lease object per key, `.<name>.octstore-lease` (below) | +2 per update, +3 per overwrite |

*The S3 lease.* S3 keeps an object's ETag when only its metadata changes, so no
precondition on the object can see another writer's metadata update. Every metadata update
and every overwrite of a key first creates `.<name>.octstore-lease` beside it with
`If-None-Match: *` (exactly one writer succeeds), re-reads the object under it, applies its
changes, writes, and deletes the lease with `If-Match` on the lease's own ETag. A held
lease is waited for, with jittered retries, up to `OCTSTORE_LEASE_WAIT` seconds (default 10),
then `ConflictError`, nothing written. A lease older than `OCTSTORE_LEASE_TTL` seconds
(default 30; a holder about to upload a large file adds a second per MiB, and says so in the
lease) — judged by the server's clock, its `LastModified` against the response's `Date`,
never this machine's — belongs to a writer that died, and is taken over with `If-Match` on
its ETag (each lease holds its holder's token, so each has an ETag of its own): one writer
takes it over, and its former holder can no longer release it. A metadata update costs 4 requests
(lease, HEAD, copy, release; 2 before), an overwrite 4 (lease, HEAD, PUT, release; 1
before); creating an object needs no lease (`If-None-Match: *`, 1 request) unless its
metadata spills into a sidecar object (two writes, kept together under the lease). Tested in
`tests/test_s3_lease.py` (a held lease waited for then a conflict that writes nothing, a
released one taken, an expired one taken over, request counts) and by the races above.

**Local files have one lock, whatever the path.** The lock is the hidden file beside the
data, named after the file's resolved real path (device and inode cannot key it: each
atomic replace makes a new inode), with the folder's write permissions, so every process
that can write the file — through a link, as another user, with another
`OCTSTORE_CACHE_DIR` — takes the same one. Reads never take it. A folder where it cannot be
created is read-only for octstore: reads work, writes raise `AccessDeniedError` naming the
folder. An unusable cache directory never breaks local reads or writes. Tested in
`tests/test_local_lock.py`.

**Writes through a symbolic link change its target.** A local file reached through a link
is written, and its metadata kept, where the link points; the link stays a link. Tested in
`tests/test_local_lock.py`.

**Every behaviour above is also in `tests/test_metadata_changes.py`**, deterministic
interleavings of two writers on local, `memory://`, S3 and GCS.

**A re-run upload never overwrites a newer change.** Folder uploads and downloads are
three-way syncs, decided for every file before anything moves, from one listing and the
destination's manifest (what the last sync left there): a file changed only at the source is
copied; one changed only at the destination is left and reported; one changed on both sides,
or differing with no sync behind it, is a conflict, never overwritten without
`overwrite=True` / `--overwrite` (the command line exits with 4). Every write is also
conditional on the state it was planned on, so a change made while the copy runs is a
conflict too. Tested in `tests/test_sync.py` on every backend: remote content and metadata
changes, conflicts that stay conflicts, conflicts with no basis, local edits during a
download, planning before transfer, the command line's report and exit code.

**Ids are stable, and unchanged files are not rewritten.** Until a write stores it, a
file's id is a UUID5 of its URL (a local file's real path), so every read, listing and
linked path agrees, and reads store nothing. On upload, the id the destination already has
wins and is written back to the local sidecar. Re-uploading unchanged files makes no write
request at all, manifest included: 31 for 30 files on S3 before, 0 now, counted at the
server (`tests/test_ids.py`).

**Nothing is written outside the destination.** No key, manifest entry or name can place a
file outside the folder a download writes to: an empty or absolute path, one starting with
`~`, with an empty, `.` or `..` part, a drive letter, a backslash or NUL is refused with
`UnsafePathError` naming it, nothing is written for it, and the other files still download.
Tested with nine hostile keys, forged manifest entries, and the real command line
(`octstore download s3://bucket/~` writes nothing into `$HOME`): `tests/test_download_escape.py`.

**No credential leaves the process.** One function, `octstore.redaction.redact`, decides
what a credential is — a URL's userinfo, secret query parameters, storage options or
headers under secret names at any depth, quoted secrets in messages, values seen as
credentials or held by secret environment variables — and every way out uses it: exception
messages (and the errors they were raised from), the records of every `octstore` logger,
warnings, every line the command line prints (`--json` and `--debug` included), `repr` and
`to_dict` (which leaves credentials out and still round-trips). Tested by planting 17
secrets and reading 23 output paths, the command line run as a user runs it:
`tests/test_redaction.py`, and the secrets checks below.

**Names are names, never patterns.** Every file is reached through fsspec's exact-path
calls, so `[ab].csv`, `*` or `**` keep their metadata and their folder loads. Names of the
files octstore keeps beside yours (sidecar, pending marker, lock, lease, manifest, `.octue`,
temp files) are refused on creation with `InvalidPathError`, as are names whose metadata
files would not fit the filesystem. Tested on every backend with 23 awkward names and a
hypothesis property over generated names of up to 200 bytes: `tests/test_names.py`.

**A full or unwritable disk is never mistaken for a failed write.** A remote write whose
copy could not be kept in a full cache stands, with an `OctstoreWarning`; local files never
need the cache; remote files are read uncached (verified) when the cache cannot hold them;
a full or read-only destination is an `OctstoreError` naming the file and the way out, and
leaves nothing behind. Tested with a 256 KiB tmpfs that fills up, a read-only bind mount
and a cache path under a regular file: `tests/test_disk_full.py`.

**Hostile metadata stays with its file.** A timestamp outside the years 1-9999, invalid
JSON, or a metadata file that is not a regular file or is over 1 MiB is ignored for that
file only, with a warning naming it; a FIFO sidecar does not hang the reader and one linked
to `/dev/zero` is read in bounded memory; a number is always POSIX seconds. Tested on every
backend, with a real FIFO and a real `/dev/zero` link read in a child limited to 1 GiB:
`tests/test_hostile_metadata.py`.

**HTTP preconditions in RFC 9110's order.** The attachment server evaluates `If-Match`
(else `If-Unmodified-Since`: 412), then `If-None-Match` (else `If-Modified-Since`: 304),
before any range, so a failed precondition never returns content. Tested with real requests
to a server on loopback, 16 header combinations, GET and HEAD, local and S3 stores:
`tests/test_http_preconditions.py`.
"""

LIMITS = """\
## Known limits

- **Writers that bypass octstore** (boto3, gsutil, a text editor) do not take octstore's
  locks or leases: their updates are outside these guarantees. Content they change is still
  detected (ETags, generations, version tokens); a metadata-only change they make on S3
  while an octstore update is under way can be overwritten by it.
- **Spilled metadata racing on GCS.** Metadata beyond GCS's 8 KiB lives in a sidecar object
  written after the object's metadata PATCH; two updates of one such file at the same moment
  can leave the sidecar with one writer's changes only. (S3 writes these under its lease;
  one after the other, both land on either.)
- **An S3 lease outlived.** A lease lasts its time to live plus a second per MiB of the
  upload it covers; a holder slower than that may have its lease taken over, and then warns
  that another writer may have written meanwhile. Leases are not renewed while held.
- **Sidecar filesystems without conditional writes** (`memory://`, `sftp://`, ...): a file
  lock keeps the writers of one machine in turn; writers on different machines are not
  coordinated. A metadata sidecar spilled next to a cloud object is written after the object,
  so a failure between the two leaves the object with its id and the previous sidecar.
- **Temp files of interrupted local writes** (`.<name>.<8 characters>.tmp` beside the file)
  stay on disk until removed by hand; octstore never lists or reads them.
- **Claims of a killed `Store.gc`** stay in `<root>/.claims/`: an add of content that a dead
  gc had claimed waits until the claim expires (`CLAIM_TIMEOUT`, 5 minutes), and a later gc
  removes claims older than twice that. A gc killed between deleting an object and its
  sidecar leaves the sidecar (`.<hash>.octstore.json`), which nothing reads; a killed local
  add leaves its staged temp file in the root.
- **A served download cut by a backend failure** after the headers went out is a short body
  (its `Content-Length` says so), and the server logs the backend's own `OSError`.
"""


def _table(title: str, counts: dict[str, int], what: str) -> list[str]:
    """A table of ``counts``: one column per backend if the kinds are ``backend: what``."""
    if not counts:
        return []
    if all(": " in kind for kind in counts):
        return _by_backend(title, counts)
    lines = [f"| {title} | {what} |", "|---|---:|"]
    lines += [f"| {kind} | {count:,} |" for kind, count in counts.items()]
    lines.append(f"| **total** | **{sum(counts.values()):,}** |")
    return [*lines, ""]


def _by_backend(title: str, counts: dict[str, int]) -> list[str]:
    cells = {tuple(kind.split(": ", 1)): count for kind, count in counts.items()}
    backends = sorted({backend for backend, _ in cells})
    rows = sorted({row for _, row in cells})
    lines = [f"| {title} | {' | '.join(backends)} |", "|---|" + "---:|" * len(backends)]
    for row in rows:
        numbers = [f"{cells[(b, row)]:,}" if (b, row) in cells else "-" for b in backends]
        lines.append(f"| {row} | {' | '.join(numbers)} |")
    totals = [
        f"**{sum(c for (b, _), c in cells.items() if b == backend):,}**" for backend in backends
    ]
    lines.append(f"| **total** | {' | '.join(totals)} |")
    return [*lines, ""]


def render(figures: dict[str, Any]) -> str:
    """The page for ``figures`` (as ``figures.json`` holds them)."""
    outcomes = figures["outcomes"]
    failed = {kind: count for kind, count in outcomes.items() if kind != "succeeded"}
    summary = [
        "## Figures of the latest run",
        "",
        f"{figures['tests']} tests{' (with the soak variants)' if figures['soak'] else ''}.",
        "",
        "| | |",
        "|---|---:|",
        f"| operations under faults | {sum(figures['operations'].values()):,} |",
        f"| requests through the proxy | {figures['requests']:,} |",
        f"| faults injected | {sum(figures['faults'].values()):,} |",
        f"| operations that succeeded | {outcomes.get('succeeded', 0):,} |",
        f"| operations that failed with a clear error | {sum(failed.values()):,} |",
        f"| processes killed | {sum(figures['crashes'].values()):,} |",
        f"| races run | {sum(figures['races'].values()):,} |",
        f"| hostile inputs tried | {sum(figures['hostile_inputs'].values()):,} |",
        f"| state machine steps | {sum(figures['stateful_steps'].values()):,} |",
        f"| places checked for secrets | {sum(figures['secrets_checked'].values()):,} |",
        f"| **data lost** | **{figures['data_lost']}** |",
        "",
        "Every check that finds a byte or a metadata update lost or corrupted fails its test, "
        "so a passing run, the only kind that writes this page, has lost nothing.",
        "",
        "### Faults",
        "",
        *_table("fault injected", figures["faults"], "requests"),
        *_table("outcome", outcomes, "operations"),
        *_table("operation", figures["operations"], "runs"),
        "### Crashes",
        "",
        *_table("killed during", figures["crashes"], "processes"),
        "### Races",
        "",
        *_table("race", figures["races"], "runs"),
        "### Hostile input",
        "",
        *_table("input", figures["hostile_inputs"], "tried"),
        "### State machines and secrets",
        "",
        *_table("backend", figures["stateful_steps"], "steps"),
        *_table("checked for credentials", figures["secrets_checked"], "checks"),
    ]
    return "\n".join([INTRO, GUARANTEES, METHOD, *summary, LIMITS])


def write_page(figures: dict[str, Any]) -> None:
    """Write ``docs/reliability.md`` for ``figures``."""
    PAGE.write_text(render(figures))


if __name__ == "__main__":
    write_page(json.loads((HERE / "figures.json").read_text()))
