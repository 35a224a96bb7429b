"""The local cache of remote content: versioned, verified, safe across processes, bounded.

Correct first, fast second:

- An entry is keyed by the file's canonical URL and its version token (GCS generation, S3
  ETag, modification time and size elsewhere), so a changed remote file is never served from
  an old entry. Revalidating an entry is one metadata request, done by the caller; with
  ``offline=True`` (or ``OCTSTORE_OFFLINE=1``) the newest entry is trusted with none.
- Downloads go to a unique temp file beside the entry and are renamed into place only when
  complete and, where the backend gives a CRC32C, verified; a mismatch raises and caches
  nothing. A process killed mid-download leaves only a temp file, which nothing trusts and
  :func:`prune` removes.
- One file lock per entry: N processes reading one uncached file cause one download, and all
  read the complete bytes.
- Each entry records its size, modification time and inode when it is made; an entry changed
  on disk since (bytes flipped, truncated) is re-verified against its CRC32C, or dropped and
  fetched again.
- The cache is bounded (``OCTSTORE_CACHE_MAX_BYTES``, default 20 GiB; ``"500MiB"`` style
  sizes work) with least-recently-used eviction that never removes an entry a reader has open
  or one used in the last minute.

Layout under :func:`cache_root` (``OCTSTORE_CACHE_DIR``, else the user cache directory)::

    objects/<h[:2]>/<h>/data/<name>      content; h = sha256(URL, version token)
    objects/<h[:2]>/<h>/entry.json       what the entry holds: URL, state, size, mtime, inode
    urls/<u[:2]>/<u>.json                the newest entry of a URL, for offline use
    locks/                               download locks
    writes/                              content on its way to a remote file; never evicted,
                                         and where a write that hit a conflict is kept
"""

from octstore.cache.entries import (
    Transfer,
    copy_cached,
    copy_out,
    download,
    fetch,
    is_cached,
    keep,
    lookup,
    open_entry,
    verify,
)
from octstore.cache.files import (
    copy_file,
    copy_unchanged,
    default_permissions,
    is_temporary_name,
    named_refusal,
    rebuildable,
    staging_path,
    temporary_path_beside,
    write_atomically,
)
from octstore.cache.places import (
    DEFAULT_MAX_BYTES,
    DISK_FULL,
    CacheUnavailableError,
    cache_root,
    entry_path,
    is_disk_full,
    lock,
    max_bytes,
)
from octstore.cache.pruning import RECENT_SECONDS, CacheInfo, PruneReport, clear, info, prune

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DISK_FULL",
    "RECENT_SECONDS",
    "CacheInfo",
    "CacheUnavailableError",
    "PruneReport",
    "Transfer",
    "cache_root",
    "clear",
    "copy_cached",
    "copy_file",
    "copy_out",
    "copy_unchanged",
    "default_permissions",
    "download",
    "entry_path",
    "fetch",
    "info",
    "is_cached",
    "is_disk_full",
    "is_temporary_name",
    "keep",
    "lock",
    "lookup",
    "max_bytes",
    "named_refusal",
    "open_entry",
    "prune",
    "rebuildable",
    "staging_path",
    "temporary_path_beside",
    "verify",
    "write_atomically",
]
