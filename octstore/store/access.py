"""Who may use a store over HTTP: bearer tokens that grant uploads or reads, and expiring
signed links that grant one handle's content.

A store's configuration holds them (``[stores.<name>]`` in the config file, or the matching
``OCTSTORE_STORES__<NAME>__*`` variables)::

    [stores.attachments]
    url = "s3://my-bucket/attachments"
    upload_tokens = ["..."]   # may upload, and read
    read_tokens = ["..."]     # may read; with any, reads need a token or a link
    link_secret = "..."       # signs links: `octstore store link attachments HANDLE`
    protect_reads = true      # reads need a token or a link even with no read_tokens

A link is ``/<handle>?expires=<unix time>&signature=<HMAC-SHA256>``: the HMAC, keyed with
the store's ``link_secret``, is over the handle and the expiry, so a link cannot be moved to
another handle or kept alive longer, and every process with the same configuration (the
command that makes links, each server worker) agrees on it. Tokens and the link secret are
``pydantic.SecretStr`` values: no ``repr``, error or log shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from octstore.errors import ConfigError, warn

if TYPE_CHECKING:
    from octstore.config import Config

__all__ = ["Access", "Right", "check_exposure", "generate_token", "is_loopback"]

#: What a token grants: ``"upload"`` (which includes reading) or ``"read"``.
Right = Literal["upload", "read"]
#: The shortest token or link secret accepted: guessable ones are refused at start-up.
MIN_SECRET_LENGTH = 16


def generate_token() -> str:
    """A new random token: 43 URL-safe characters (256 bits)."""
    return secrets.token_urlsafe(32)


def _secrets(values: Iterable[str | SecretStr], field: str) -> tuple[SecretStr, ...]:
    kept = tuple(value if isinstance(value, SecretStr) else SecretStr(value) for value in values)
    for value in kept:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"a value of {field} is shorter than {MIN_SECRET_LENGTH} characters, so it "
                "could be guessed: use `octstore serve --generate-token` or "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` for one"
            )
    return kept


def _digest(token: str) -> bytes:
    # Tokens are compared as digests of equal length, so the time taken does not tell
    # how long the right one is.
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, init=False, repr=False)
class Access:
    """The tokens and link secret of one store's HTTP endpoint.

    Args:
        upload_tokens: Tokens that may upload (and read).
        read_tokens: Tokens that may read; with any, reads need a token or a link.
        link_secret: The key that signs links; without one, no link is valid.
        protect_reads: Reads need a token or a link even with no ``read_tokens``.

    Raises:
        ConfigError: If a token or the link secret is shorter than 16 characters.

    Examples:
        >>> access = Access(upload_tokens=["u" * 20], link_secret="s" * 32)
        >>> access.grants("u" * 20), access.grants("wrong"), access.reads_are_protected
        ('upload', None, False)
        >>> access
        Access(upload_tokens=1, read_tokens=0, link_secret=set, protect_reads=False)
    """

    upload_tokens: tuple[SecretStr, ...]
    read_tokens: tuple[SecretStr, ...]
    link_secret: SecretStr | None
    protect_reads: bool

    def __init__(
        self,
        *,
        upload_tokens: Iterable[str | SecretStr] = (),
        read_tokens: Iterable[str | SecretStr] = (),
        link_secret: str | SecretStr | None = None,
        protect_reads: bool = False,
    ) -> None:
        set_ = object.__setattr__  # frozen
        set_(self, "upload_tokens", _secrets(upload_tokens, "upload_tokens"))
        set_(self, "read_tokens", _secrets(read_tokens, "read_tokens"))
        secret = None if link_secret is None else _secrets([link_secret], "link_secret")[0]
        set_(self, "link_secret", secret)
        set_(self, "protect_reads", protect_reads)

    @classmethod
    def from_config(cls, name: str | None = None, *, config: Config | None = None) -> Access:
        """The access configured for the store ``name`` (see :mod:`octstore.config`); none
        (every request allowed) for a URL that is no configured store."""
        from octstore import config as config_module

        store = (config or config_module.load()).store(name)
        return cls(
            upload_tokens=store.upload_tokens,
            read_tokens=store.read_tokens,
            link_secret=store.link_secret,
            protect_reads=store.protect_reads,
        )

    def __repr__(self) -> str:
        return (
            f"Access(upload_tokens={len(self.upload_tokens)}, "
            f"read_tokens={len(self.read_tokens)}, "
            f"link_secret={'set' if self.link_secret else 'none'}, "
            f"protect_reads={self.protect_reads})"
        )

    @property
    def uploads_are_protected(self) -> bool:
        """Whether an upload needs a token."""
        return bool(self.upload_tokens)

    @property
    def reads_are_protected(self) -> bool:
        """Whether a read needs a token or a link."""
        return self.protect_reads or bool(self.read_tokens)

    def grants(self, token: str | None) -> Right | None:
        """What ``token`` may do, or None if it is no token of this store. Every token is
        compared, in constant time, whichever matches."""
        if not token:
            return None
        presented = _digest(token)
        upload = read = False
        for value in self.upload_tokens:
            upload |= hmac.compare_digest(presented, _digest(value.get_secret_value()))
        for value in self.read_tokens:
            read |= hmac.compare_digest(presented, _digest(value.get_secret_value()))
        return "upload" if upload else "read" if read else None

    def link(
        self, handle: str, expires_in: timedelta, *, base_url: str, now: float | None = None
    ) -> str:
        """A link to ``handle`` on the server at ``base_url``, valid for ``expires_in``.

        Raises:
            ConfigError: If the store has no ``link_secret``.
        """
        expires = int((time.time() if now is None else now) + expires_in.total_seconds())
        query = urlencode({"expires": expires, "signature": self._signature(handle, expires)})
        return f"{base_url.rstrip('/')}/{quote(handle)}?{query}"

    def link_is_valid(
        self, handle: str, expires: str, signature: str, *, now: float | None = None
    ) -> bool:
        """Whether ``signature`` signs ``handle`` until ``expires``, and that is not past."""
        if self.link_secret is None or not expires.isdigit():
            return False
        expected = self._signature(handle, int(expires))
        unexpired = int(expires) > (time.time() if now is None else now)
        return hmac.compare_digest(expected.encode(), signature.encode()) and unexpired

    @staticmethod
    def expiry(expires: str) -> datetime:
        """A link's ``expires`` value as a time (UTC)."""
        return datetime.fromtimestamp(int(expires), tz=timezone.utc)

    def _signature(self, handle: str, expires: int) -> str:
        if self.link_secret is None:
            raise ConfigError(
                "this store has no link_secret, so it cannot sign links: add link_secret "
                "to its [stores.<name>] section (or OCTSTORE_STORES__<NAME>__LINK_SECRET)"
            )
        key = self.link_secret.get_secret_value().encode()
        message = f"{handle}\n{expires}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only: ``localhost`` or a loopback
    address. Any other name counts as reachable from the network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(
    host: str, *, uploads: bool, uploads_protected: bool, reads_protected: bool
) -> None:
    """Before serving on ``host``: refuse open uploads on an address the network can reach,
    and warn about open reads there.

    Raises:
        ConfigError: If ``host`` is not loopback and ``uploads`` are on but not protected.
    """
    if is_loopback(host):
        return
    if uploads and not uploads_protected:
        raise ConfigError(
            f"refusing to accept uploads on {host} with no token: anyone who can reach it "
            "could fill the store. Add upload_tokens to the store's [stores.<name>] section "
            "(or OCTSTORE_STORES__<NAME>__UPLOAD_TOKENS), start it with 'octstore serve "
            "--generate-token', or serve it read-only (--read-only)"
        )
    if not reads_protected:
        warn(
            f"serving reads on {host} with no token: anyone who can reach it and knows a "
            "handle can read that attachment. To require a token or a signed link, add "
            "read_tokens, or protect_reads = true, to the store's [stores.<name>] section"
        )
