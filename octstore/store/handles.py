"""Handles and file names: what ``Store.add`` returns, and the names users give.

A handle is ``<sha256 hex>/<file name>``. Only the hash decides which object a handle
reaches; the name is what downloads are called. Names come from users (an upload form, a
path), so they are sanitised before they are stored, put in a header, or used to create a
local file; a handle is valid only if its name is already sanitised, so a crafted handle can
neither leave a store's root nor carry a header break.
"""

from __future__ import annotations

import re
import unicodedata

from octstore.errors import InvalidHandleError

__all__ = ["sanitize_filename", "split_handle"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FALLBACK_NAME = "attachment"
_MAX_NAME_BYTES = 255
#: Characters that are path separators or are refused in file names on some system.
_UNSAFE_CHARACTERS = frozenset('/\\<>:"|?*')
#: Unicode categories replaced in names: controls, format characters (bidirectional
#: overrides that disguise extensions), surrogates, private use, line and paragraph
#: separators. (Not "unassigned": that changes with Python's Unicode version, and a handle
#: made with a newer Python must stay valid with an older one.)
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{d}{n}" for d in ("com", "lpt") for n in range(1, 10)}
)
_HANDLE_EXAMPLE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/report.pdf"


def sanitize_filename(name: str) -> str:
    """A file name that is safe to store, to put in a header and to create on any system.

    The last component of a path is kept (browsers may send ``C:\\fakepath\\x.pdf``);
    separators, characters Windows refuses, control and invisible formatting characters
    become ``_``; surrounding spaces and trailing dots go; names of Windows devices get a
    ``_`` prefix; the result is at most 255 UTF-8 bytes, keeping the extension; an empty
    name becomes ``attachment``. Non-ASCII letters are kept (in NFC form).

    Examples:
        >>> sanitize_filename('../../etc/passwd')
        'passwd'
        >>> sanitize_filename('a"\\r\\nSet-Cookie: x=1.txt')
        'a___Set-Cookie_ x=1.txt'
        >>> sanitize_filename('Résumé.pdf')
        'Résumé.pdf'

    Raises:
        InvalidHandleError: If ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise InvalidHandleError(f"file name {name!r} is not text: pass the name as a str")
    text = unicodedata.normalize("NFC", name)
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(
        "_"
        if char in _UNSAFE_CHARACTERS or unicodedata.category(char) in _UNSAFE_CATEGORIES
        else char
        for char in text
    )
    text = text.strip(" ").rstrip(" .")
    if text.split(".", 1)[0].lower() in _RESERVED_NAMES:
        text = f"_{text}"
    text = _truncate(text).rstrip(" .")
    if not text.strip("."):
        return _FALLBACK_NAME
    return text


def _truncate(name: str) -> str:
    """``name`` cut to :data:`_MAX_NAME_BYTES` UTF-8 bytes, keeping a short extension."""
    if len(name.encode("utf-8")) <= _MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > 32:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = _MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    while len(stem.encode("utf-8")) > room:
        stem = stem[:-1]
    return stem + suffix


def split_handle(handle: str) -> tuple[str, str]:
    """The SHA-256 (hex) and the file name of a handle that ``Store.add`` returned.

    Examples:
        >>> split_handle("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/a.txt")
        ('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'a.txt')

    Raises:
        InvalidHandleError: If it is not ``<64 lowercase hex digits>/<sanitised name>``.
    """
    if isinstance(handle, str):
        digest, separator, name = handle.partition("/")
        if (
            separator
            and _SHA256.fullmatch(digest)
            and name
            and len(handle) < 1024
            and sanitize_filename(name) == name
        ):
            return digest, name
    shown = repr(handle) if len(repr(handle)) <= 120 else repr(handle)[:117] + "..."
    raise InvalidHandleError(
        f"{shown} is not a store handle: a handle is '<sha256 hex>/<file name>' as adding "
        f"a file returns it, e.g. {_HANDLE_EXAMPLE!r}"
    )
