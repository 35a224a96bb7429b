"""Relative paths that stay inside their root, on every operating system: the keys of a
dataset's files, the names in a manifest, a file's name inside a folder.

Examples:
    >>> from octstore.relative_paths import relative_path
    >>> relative_path("raw/north.csv")
    'raw/north.csv'
    >>> relative_path("../north.csv")
    Traceback (most recent call last):
    ...
    ValueError: '../north.csv' is not a path inside the root: it has an empty, '.' or '..' part
"""

from __future__ import annotations

__all__ = ["relative_path"]


def relative_path(path: str) -> str:
    """``path`` checked as a ``/``-separated path inside a root, which joined onto any local
    directory stays inside it, on every operating system.

    Nothing is normalised away: a path that needs normalising is refused, since a key such as
    ``a/..`` or ``a//b`` names no file a directory can hold under that name.

    Raises:
        ValueError: If the path is empty or absolute, has an empty, ``.`` or ``..`` part,
            starts with ``~`` (a home directory), has a part that starts with a drive letter
            (``C:``), or holds a backslash or NUL; the message says which.
    """
    problem = _escape(path)
    if problem:
        raise ValueError(f"{path!r} is not a path inside the root: {problem}")
    return path


def _escape(path: str) -> str | None:
    """Why ``path`` could leave a root, or None if it cannot."""
    if not path:
        return "it is empty"
    if "\\" in path or "\0" in path:
        return "it holds a backslash or NUL, which no portable file name can"
    if path.startswith("/"):
        return "it is absolute"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    if parts[0].startswith("~"):
        return "it starts with '~', which names a home directory"
    if any(
        len(part) >= 2 and part[1] == ":" and part[0].isascii() and part[0].isalpha()
        for part in parts
    ):
        return "it has a part that starts with a drive letter"
    return None
