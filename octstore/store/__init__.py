"""``Store``: content-addressed attachments, stored once, garbage-collected, served over HTTP.

A store is a directory or cloud prefix holding each distinct content once, at the SHA-256
of its bytes::

    <root>/<h[0:2]>/<h[2:4]>/<h>         the content (h: its SHA-256, 64 hex digits)
    <root>/.claims/<h>.<ns>.<random>     a deletion in progress (see "gc" below)

Adding returns a handle, ``<h>/<file name>``, to keep in a database. The file name is the
user's, sanitised, and is what downloads are called; the object itself only knows its hash.
Each object's octstore metadata (see :mod:`octstore.backends`) records when it was first
stored (``timestamp``), when it was last added (tag ``added``) and the names it was added
under (tag ``names``, the last :data:`MAX_NAMES`).

Examples:
    >>> import tempfile
    >>> from octstore import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> store.add("memo.txt", b"Feed the cats!")
    'c3d3062a433ef8bf0323fca1dab3e08cc3677431a8aa5c909330f4d88303f768/memo.txt'

gc and concurrent adds
----------------------
:meth:`Store.gc` deletes objects that no handle it is given names and that were last added
longer than ``grace`` ago. An ``add`` running at the same time, in any process on any
machine, never has its content deleted under it: ``add`` returns a handle only after

1. making the object present with ``added`` set to now (uploading it, or, when the content
   is already there, rewriting its metadata: a "touch", which transfers no content), then
2. finding no live deletion claim for the hash, then
3. finding the object still present;

and ``gc`` (and :meth:`Store.delete`) deletes an object only

a. while it holds a claim for the object's hash: a new, uniquely named, empty file under
   ``.claims/``, made before and removed after, and
b. after reading the object's metadata again, under the claim, and finding ``added`` older
   than ``grace``.

Suppose gc deleted an object after an add's check (3) found it present. gc's re-read (b)
then came before the add's touch (1): had it come after, it would have seen ``added``
within ``grace``. So gc's claim, made before (b), was still held from before (1) until
after the deletion, and so at the add's claim check (2), between them: the add would not
have returned. A deletion between (1) and (3) is seen by (3) (and the add, which keeps its
content until it returns, stores it again); one before (1) is undone by (1). Every step
needs only what every backend offers with strong consistency: writing a new file, listing
a directory, reading and deleting an object. None relies on a conditional delete, which S3
cannot make depend on a metadata change (a metadata update keeps the ETag).

The limits: claims are leases. A claim older than :data:`CLAIM_TIMEOUT` belongs to a gc
that died, and adds ignore it; a gc therefore gives up on an object (keeps it) once
``CLAIM_TIMEOUT / 2`` has passed since it made its claim. A gc process frozen for longer
than that between its last check and its DELETE reaching the server could still delete a
fresh object. Ages are compared across machines' clocks, so ``grace`` (default one hour)
must exceed their skew. :meth:`Store.delete` is claimed the same way without the age
check, so an add racing with it stores its content again rather than returning a handle
to deleted content.
"""

from octstore.store.claims import CLAIM_TIMEOUT
from octstore.store.gc import DEFAULT_GRACE, GC_CONCURRENCY
from octstore.store.records import MAX_NAMES, GcReport, StoredObject
from octstore.store.store import READ_AHEAD, Store

__all__ = [
    "CLAIM_TIMEOUT",
    "DEFAULT_GRACE",
    "GC_CONCURRENCY",
    "MAX_NAMES",
    "READ_AHEAD",
    "GcReport",
    "Store",
    "StoredObject",
]
