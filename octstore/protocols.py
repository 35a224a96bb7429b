"""One registry of what octstore knows about each protocol, as fsspec's
``known_implementations`` is for filesystems: which backend keeps its metadata, the extra to
install, its configuration section, how to give it credentials, and whether it can be written.

Every other module asks here (``datafile.py`` never says ``if protocol == "s3"``), so adding
a backend is one module implementing :class:`~octstore.backends.MetadataBackend`, one
:class:`Protocol` in :data:`REGISTRY` (or a call to :func:`register`), and the conformance
suite (``tests/test_backend_conformance.py``) passing on it. A protocol octstore does not
list here is still usable: fsspec reaches it, and its metadata goes in sidecar files.

Examples:
    >>> from octstore.protocols import lookup
    >>> lookup("s3a").name, lookup("s3a").extra
    ('s3', 's3')
    >>> lookup("ftp").backend
    'octstore.backends.sidecar:SidecarBackend'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from fsspec.registry import known_implementations

from octstore.buckets import AZURE_CONTAINERS, GCS_BUCKETS, S3_BUCKETS, Buckets
from octstore.errors import InvalidPathError, Keyword

__all__ = [
    "REGISTRY",
    "SIDECAR_BACKEND",
    "Protocol",
    "canonical",
    "lookup",
    "refuse_misspelt_url",
    "register",
]

#: The backend of every protocol without object metadata: a sidecar file beside the content.
SIDECAR_BACKEND = "octstore.backends.sidecar:SidecarBackend"


@dataclass(frozen=True)
class Protocol:
    """What octstore knows about one protocol.

    Attributes:
        name: The canonical protocol, as URLs are written back (``gs``, not ``gcs``).
        aliases: Other spellings that mean the same (``s3a``, ``gcs``).
        backend: The :class:`~octstore.backends.MetadataBackend` keeping its metadata, as
            ``module:class`` (imported on first use).
        extra: The ``octstore[extra]`` that installs its filesystem, if one does.
        config_section: The section of :mod:`octstore.config` with its defaults (``s3``,
            ``gcs``), if it has one.
        credentials_hint: How to give it credentials, for errors that lack them.
        public_options: The storage options that read a public bucket without credentials
            (``{"anon": True}``), offered by errors that lack them.
        buckets: How its buckets are named, if its URLs start with one.
        local: Whether paths are local files (``file``).
        read_only: Whether its filesystems cannot write (``http``, archives).
        listable: Whether its filesystems list a folder's files (not ``http``, whose
            "listing" is the links a page happens to show).
    """

    name: str
    aliases: tuple[str, ...] = ()
    backend: str = SIDECAR_BACKEND
    extra: str | None = None
    config_section: str | None = None
    credentials_hint: str = ""
    public_options: tuple[tuple[str, object], ...] = ()
    buckets: Buckets | None = None
    local: bool = False
    read_only: bool = False
    listable: bool = True

    def credentials_fix(self) -> tuple[str, tuple[Keyword, ...]]:
        """How to give it credentials, and the keyword argument that says it names, if any
        (``storage_options`` for a public bucket)."""
        if not self.public_options:
            return self.credentials_hint, ()
        keyword = Keyword("storage_options", dict(self.public_options))
        kind = self.buckets.kind if self.buckets else "bucket"
        return f"{self.credentials_hint}, or pass {keyword} for a public {kind}", (keyword,)


#: Every protocol octstore treats specially, by each of its names.
REGISTRY: dict[str, Protocol] = {}


def register(protocol: Protocol) -> None:
    """Add ``protocol`` to :data:`REGISTRY` under its name and its aliases, replacing what
    was there."""
    for name in (protocol.name, *protocol.aliases):
        REGISTRY[name] = protocol


def lookup(name: str | None) -> Protocol:
    """What octstore knows about protocol ``name`` (None: a local path): its entry, or for
    an unlisted protocol one with a sidecar backend and nothing else."""
    if name is None:
        return REGISTRY["file"]
    return REGISTRY.get(name) or Protocol(name)


def canonical(name: str) -> str:
    """The canonical spelling of protocol ``name`` (``gcs`` -> ``gs``)."""
    return lookup(name).name


#: A protocol and a colon, then one slash or none: ``s3:/bucket/key``, ``gs:bucket``.
_ONE_SLASH = re.compile(r"(?P<protocol>[A-Za-z][A-Za-z0-9+.-]+):(?!//)/?(?P<rest>.*)", re.DOTALL)


def refuse_misspelt_url(path: str) -> None:
    """Refuse ``path``, read as a local path, if it is a URL of a known protocol with one
    slash or none after its colon (``s3:/bucket/key``) and no local file has that name.

    Raises:
        InvalidPathError: Saying which URL it probably meant.
    """
    match = _ONE_SLASH.fullmatch(path)
    if match is None:
        return
    protocol = match["protocol"].lower()
    known = protocol in REGISTRY or protocol in known_implementations
    if not known or lookup(protocol).local or os.path.lexists(os.path.expanduser(path)):
        return
    raise InvalidPathError(
        f"{path!r} is no URL ({protocol}: needs two slashes) and no local file: did you mean "
        f"{protocol}://{match['rest']}?"
    )


register(Protocol("file", aliases=("local",), local=True))
register(Protocol("memory"))
register(
    Protocol(
        "s3",
        aliases=("s3a",),
        backend="octstore.backends.s3:S3Backend",
        extra="s3",
        config_section="s3",
        credentials_hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
        public_options=(("anon", True),),
        buckets=S3_BUCKETS,
    )
)
register(
    Protocol(
        "gs",
        aliases=("gcs",),
        backend="octstore.backends.gcs:GcsBackend",
        extra="gcs",
        config_section="gcs",
        credentials_hint="run 'gcloud auth application-default login' or set "
        "GOOGLE_APPLICATION_CREDENTIALS",
        public_options=(("token", "anon"),),
        buckets=GCS_BUCKETS,
    )
)
register(
    Protocol(
        "az",
        aliases=("abfs", "abfss"),
        backend="octstore.backends.azure:AzureBackend",
        extra="azure",
        credentials_hint="set AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT_NAME "
        "with AZURE_STORAGE_ACCOUNT_KEY, or sign in with 'az login')",
        public_options=(("account_name", "ACCOUNT"), ("anon", True)),
        buckets=AZURE_CONTAINERS,
    )
)
for _name in ("github", "git", "zip", "tar", "libarchive", "reference"):
    register(Protocol(_name, read_only=True))
for _name in ("http", "https"):
    register(
        Protocol(
            _name,
            backend="octstore.backends.http:HttpBackend",
            extra="http",
            read_only=True,
            listable=False,
        )
    )
