"""Credentials never leave the process: :func:`redact`, the one function that hides them.

Every way text leaves octstore goes through it: exception messages (when the error is made),
log records of the ``octstore`` loggers (a filter on each), warnings (:func:`octstore.errors.warn`),
the command line's output, ``repr`` and ``to_dict``. A credential can hide in

- a URL's userinfo: ``ftp://user:password@host/x`` shows as ``ftp://***@host/x``;
- a URL's query: ``?X-Amz-Signature=...``, ``&sig=...`` (Azure SAS), ``&token=...``;
- a mapping (storage options, headers, ``client_kwargs``, at any depth, in lists too) under
  a name such as ``key``, ``secret``, ``token``, ``password``, ``Authorization``;
- free text that quotes one of those (``{'secret': '...'}``, ``AccountKey=...;``,
  ``Bearer ...``);
- anywhere at all, as a value :func:`redact` has seen under a secret name, or that a secret
  environment variable (``AWS_SECRET_ACCESS_KEY``, ``OCTSTORE_..._SECRET_ACCESS_KEY`` ...)
  holds: an SDK's message that quotes the access key id is caught this way.

Examples:
    >>> redact("ftp://user:pw@host/x?sig=abc&v=1")
    'ftp://***@host/x?sig=***&v=1'
    >>> redact({"key": "AKIA...", "client_kwargs": {"region_name": "eu-west-1"}})
    {'key': '***', 'client_kwargs': {'region_name': 'eu-west-1'}}
    >>> redact({"token": "s3cr3t", "anon": False}, mask=None)  # for to_dict: left out
    {'anon': False}
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = [
    "MASK",
    "RedactingFilter",
    "get_logger",
    "is_secret_name",
    "redact",
    "remember_secrets",
]

T = TypeVar("T")

#: What a credential shows as.
MASK = "***"
# A name holding one of these (case-insensitive) holds a credential.
_SECRET_WORDS = (
    "key",
    "secret",
    "token",
    "passw",
    "credential",
    "session",
    "auth",
    "signature",
    "cookie",
    "private",
    "connection_string",
)
# Short names that are credentials only when they are the whole name (Azure SAS ``sig``).
_SECRET_NAMES = frozenset({"sig", "pwd", "pass", "sas"})
# ``token`` values that name a way to authenticate rather than being a credential (gcsfs).
_PUBLIC_TOKENS = frozenset({"anon", "google_default", "cloud", "cache", "browser"})
# The shell's working directories: ``pwd`` is a password's name elsewhere, not here.
_DIRECTORY_VARIABLES = frozenset({"PWD", "OLDPWD"})
# Environment variables that name where a credential is, not the credential itself.
_LOCATION_SUFFIXES = ("_FILE", "_PATH", "_SOCK", "_DIR", "_CREDENTIALS")
# A value shorter than this is hidden where its name shows it, but not searched for in text.
_SHORTEST_KNOWN = 8
_KNOWN_LIMIT = 1024

_NAME = r"[A-Za-z_][\w.-]*"
# Userinfo runs to the last "@" before the host; quotes and "<>" are never in a URL.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][\w+.-]*://)(?P<userinfo>[^/?#\s\"'<>\\]+)@")
_QUERY = re.compile(rf"(?P<sep>[?&;])(?P<name>{_NAME})=(?P<value>[^&#;\s'\"]*)")
# ``name: 'value'``, ``"name": "value"``, ``name='value'`` or ``name=value`` (a colon
# with an unquoted value is prose: "no secret: a key").
_QUOTED = re.compile(
    rf"(?P<head>(?P<q>['\"]?)(?P<name>{_NAME})(?P=q)\s*(?P<op>[:=])\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?<==)[^\s,;&'\"}\])]+)"
)
_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic|Digest|Token)\s+[^\s,;'\"]+", re.IGNORECASE)

# Values seen under a secret name: hidden wherever they show up later.
_known: dict[str, None] = {}


_SECRET_WORD = re.compile("|".join(_SECRET_WORDS), re.IGNORECASE)


def is_secret_name(name: object, value: object = None) -> bool:
    """Whether ``name`` (a storage option, header, query parameter or environment variable)
    holds a credential. ``token`` naming a way to authenticate (``"anon"``) does not."""
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    if lowered == "token" and isinstance(value, str) and value in _PUBLIC_TOKENS:
        return False
    return lowered in _SECRET_NAMES or _SECRET_WORD.search(lowered) is not None


def redact(value: T, *, mask: str | None = MASK) -> T:
    """``value`` without credentials: a string, or a mapping, list or tuple of them (at any
    depth). Other values are returned as they are.

    Args:
        value: What is about to leave the process.
        mask: What a credential is replaced by; None leaves it out altogether (a URL loses
            its userinfo and secret query parameters, a mapping its secret entries), which
            is what ``to_dict`` wants: the result is usable again once the credentials are
            given back through ``storage_options``.
    """
    if isinstance(value, str):
        return _redact_text(value, mask)  # type: ignore[return-value]
    if isinstance(value, Mapping):
        redacted: dict[Any, Any] = {}
        for name, item in value.items():
            if is_secret_name(name, item):
                _remember(item)
                if mask is not None:
                    redacted[name] = mask
            else:
                redacted[name] = redact(item, mask=mask)
        return redacted  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item, mask=mask) for item in value)
    return value


def remember_secrets(options: object) -> None:
    """Hide the credentials in ``options`` from any text redacted from now on, wherever they
    show up: in storage options, the values under secret names (at any depth); in a URL,
    its userinfo (a filesystem's own path for ``s3://KEY:SECRET@bucket`` keeps it)."""
    if isinstance(options, str):
        if "@" not in options:  # no userinfo: the usual path, spared the search
            return
        for match in _USERINFO.finditer(options):
            if _holds_credentials(match):
                _remember_userinfo(match["userinfo"])
    elif isinstance(options, Mapping):
        for name, item in options.items():
            if is_secret_name(name, item):
                _remember(item)
            else:
                remember_secrets(item)
    elif isinstance(options, (list, tuple)):
        for item in options:
            remember_secrets(item)


def _remember(secret: object) -> None:
    """Hide ``secret`` (every string in it) from any text redacted from now on."""
    if isinstance(secret, str):
        if len(secret) >= _SHORTEST_KNOWN and secret not in _known:
            if len(_known) >= _KNOWN_LIMIT:
                del _known[next(iter(_known))]
            _known[secret] = None
    elif isinstance(secret, Mapping):
        for item in secret.values():
            _remember(item)
    elif isinstance(secret, (list, tuple)):
        for item in secret:
            _remember(item)


def _remember_userinfo(userinfo: str) -> None:
    _remember(userinfo)
    for part in userinfo.split(":"):
        _remember(part)


# The environment the secrets below were read from, and the secrets.
_environment: tuple[dict[Any, Any] | None, list[str]] = (None, [])


def _environment_secrets() -> list[str]:
    """The values of the environment's secret variables, read again whenever it changed
    (compared in one C-level step, not variable by variable)."""
    global _environment
    raw = getattr(os.environ, "_data", None)  # os.environ's own bytes: cheap to compare
    seen, secrets = _environment
    if raw is not None and seen == raw:
        return secrets
    secrets = [
        value
        for name, value in os.environ.items()
        if len(value) >= _SHORTEST_KNOWN
        and not name.upper().endswith(_LOCATION_SUFFIXES)
        and name.upper() not in _DIRECTORY_VARIABLES
        and is_secret_name(name, value)
    ]
    _environment = (dict(raw) if raw is not None else None, secrets)
    return secrets


def _redact_text(text: str, mask: str | None) -> str:
    text = _USERINFO.sub(lambda m: _userinfo(m, mask), text)
    text = _QUERY.sub(lambda m: _query_parameter(m, mask), text)
    if mask is None:
        text = re.sub(r"\?(?=[&#\s]|$)", "", text.replace("?&", "?"))
    text = _QUOTED.sub(lambda m: _quoted(m, mask or MASK), text)
    text = _SCHEME.sub(lambda m: f"{m['scheme']} {mask or MASK}", text)
    if mask is None:  # a URL for to_dict: the patterns above are enough, and fast
        return text
    for secret in sorted({*_known, *_environment_secrets()}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask or MASK)
    return text


#: Schemes whose ``name@host`` names a container, not a user: ``abfs://container@account...``.
_CONTAINER_AT_HOST = frozenset({"az://", "abfs://", "abfss://"})


def _holds_credentials(match: re.Match[str]) -> bool:
    """Whether a URL's userinfo (``_USERINFO``'s match) may hold a credential: not an Azure
    URL's container."""
    return ":" in match["userinfo"] or match["scheme"].lower() not in _CONTAINER_AT_HOST


def _userinfo(match: re.Match[str], mask: str | None) -> str:
    if not _holds_credentials(match):
        return match[0]
    _remember_userinfo(match["userinfo"])
    return match["scheme"] + (f"{mask}@" if mask is not None else "")


def _query_parameter(match: re.Match[str], mask: str | None) -> str:
    if not is_secret_name(match["name"], match["value"]):
        return match[0]
    if mask is None:
        return "" if match["sep"] != "?" else "?"
    return f"{match['sep']}{match['name']}={mask}"


def _quoted(match: re.Match[str], mask: str) -> str:
    value = match["value"]
    if not is_secret_name(match["name"], value.strip("'\"")):
        return match[0]
    quote = value[0] if value[0] in "'\"" else ""
    return f"{match['head']}{quote}{mask}{quote}"


class RedactingFilter(logging.Filter):
    """Redacts a log record in place: its message, arguments and traceback.

    Logger filters apply only to records made on that logger, so :func:`get_logger` adds one
    to each octstore logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with credentials redacted from its records: every octstore
    module gets its logger here (``logger = get_logger(__name__)``)."""
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):  # its parents too: a record made on one is not
        logger = logging.getLogger(".".join(parts[:depth]))  # filtered by a child's filter
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return logger


get_logger("octstore")
