"""Response headers of :mod:`octstore.http` that werkzeug does not make as needed."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from werkzeug.http import dump_options_header

__all__ = ["content_disposition"]

# Characters RFC 8187's attr-char allows unencoded, beside letters and digits.
_ATTR_CHARS = "!#$&+-.^_`|~"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value for ``name``: an ASCII ``filename`` (non-ASCII
    letters stripped of accents, anything else replaced), then ``filename*`` with the
    name in UTF-8, percent-encoded (RFC 8187). Nothing in ``name`` can end the header.

    Examples:
        >>> content_disposition("Résumé 2024.pdf")
        'attachment; filename="Resume 2024.pdf"; filename*=UTF-8\\'\\'R%C3%A9sum%C3%A9%202024.pdf'
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(
        char if 0x20 <= ord(char) < 0x7F and char not in '"\\%' else "_"
        for char in decomposed
        if not unicodedata.combining(char)
    )
    return dump_options_header(
        disposition,
        {
            "filename": ascii_name or "download",
            "filename*": "UTF-8''" + quote(name, safe=_ATTR_CHARS),
        },
    )
