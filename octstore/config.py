"""Named stores and defaults, from ``OCTSTORE_*`` environment variables over a TOML file.

The file is ``$OCTSTORE_CONFIG``, else ``config.toml`` in the user's config directory
(``~/.config/octstore/config.toml`` on Linux) if it exists::

    default_store = "attachments"

    [s3]                        # defaults for every s3:// store
    endpoint_url = "http://127.0.0.1:9000"   # MinIO, Ceph, GCS interoperability ...
    region = "eu-west-1"

    [gcs]                       # defaults for every gs:// store
    project = "my-project"

    [stores.attachments]
    url = "s3://my-bucket/attachments"
    profile = "production"

    [stores.scratch]
    url = "/srv/attachments"

Every setting can also come from the environment, which wins over the file: a section and
a field joined by ``__`` after ``OCTSTORE_``, such as ``OCTSTORE_DEFAULT_STORE``,
``OCTSTORE_S3__ENDPOINT_URL``, ``OCTSTORE_GCS__PROJECT`` or
``OCTSTORE_STORES__ATTACHMENTS__URL`` (store names are case-insensitive; in variables,
write ``-`` as ``_``). ``STORAGE_OPTIONS`` variables hold JSON.

Credentials are optional. Without them, S3 uses the AWS chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws``, instance roles ...) and GCS the
Google application default credentials. Secret fields (``access_key_id``,
``secret_access_key``, ``session_token``, ``token``) are ``pydantic.SecretStr``: they never
appear in a ``repr``, in :meth:`StoreSettings.to_dict` or in an error message.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from fsspec.core import split_protocol
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from octstore.errors import ConfigError
from octstore.redaction import redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Config", "StoreConfig", "StoreSettings", "config_path", "load"]

_PREFIX = "OCTSTORE_"
_S3_ONLY = ("region", "profile", "access_key_id", "secret_access_key", "session_token")
_GCS_ONLY = ("project", "token")
_SECRETS = ("access_key_id", "secret_access_key", "session_token", "token")
_PROTOCOL_SECTIONS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


class StoreSettings(BaseModel):
    """How to reach a backend: the fields a store or a protocol's defaults may set.

    Attributes:
        endpoint_url: The service's URL: any S3-compatible server (MinIO, Ceph, GCS's
            interoperability endpoint), or a GCS emulator.
        region: The S3 region.
        profile: The AWS profile (from ``~/.aws``).
        access_key_id: The S3 access key id; by default the AWS chain's.
        secret_access_key: The S3 secret key; by default the AWS chain's.
        session_token: A temporary S3 session token.
        project: The GCS project.
        token: GCS credentials: a service-account file, ``"anon"``, ``"google_default"``
            ...; by default the application default credentials.
        anonymous: Reach a public bucket without credentials.
        storage_options: Further fsspec options, passed as they are (they win).
    """

    model_config = ConfigDict(extra="forbid")

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    project: str | None = None
    token: SecretStr | None = None
    anonymous: bool | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, JSON-safe; secrets show as ``"**********"``, a URL's
        credentials as ``***`` and storage options that may be credentials are left out."""
        document = {
            name: redact(value)
            for name, value in self.model_dump(
                mode="json", exclude_none=True, exclude_defaults=True
            ).items()
        }
        if self.storage_options:
            document["storage_options"] = redact(self.storage_options, mask=None)
        return document

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value


class StoreConfig(StoreSettings):
    """One named store: where it is, and how to reach it.

    Attributes:
        url: The store's root: a local directory or a URL (``s3://bucket/prefix``, ...).
    """

    url: str

    @property
    def protocol(self) -> str:
        """The URL's protocol (``file`` for local paths)."""
        return split_protocol(self.url)[0] or "file"

    def to_storage_options(self) -> dict[str, Any]:
        """The fsspec storage options for this store, secrets included: pass them to the
        filesystem, never print them.

        Raises:
            ConfigError: If a field does not apply to the store's protocol.
        """
        section = _PROTOCOL_SECTIONS.get(self.protocol)
        wrong = {"s3": _GCS_ONLY, "gcs": _S3_ONLY}.get(section or "", (*_S3_ONLY, *_GCS_ONLY))
        misplaced = [name for name in wrong if getattr(self, name) is not None]
        if misplaced or (section is None and self.endpoint_url is not None):
            fields = ", ".join(misplaced or ["endpoint_url"])
            raise ConfigError(
                f"store {self.url}: {fields} do(es) not apply to {self.protocol}:// stores; "
                "remove them, or put backend-specific options in storage_options"
            )
        options: dict[str, Any] = {}
        if self.endpoint_url is not None:
            options["endpoint_url"] = self.endpoint_url
        if section == "s3":
            if self.region is not None:
                options["client_kwargs"] = {"region_name": self.region}
            if self.profile is not None:
                options["profile"] = self.profile
            for field, option in (
                ("access_key_id", "key"),
                ("secret_access_key", "secret"),
                ("session_token", "token"),
            ):
                secret: SecretStr | None = getattr(self, field)
                if secret is not None:
                    options[option] = secret.get_secret_value()
            if self.anonymous is not None:
                options["anon"] = self.anonymous
        elif section == "gcs":
            if self.project is not None:
                options["project"] = self.project
            if self.token is not None:
                options["token"] = self.token.get_secret_value()
            if self.anonymous:
                options["token"] = "anon"
        return {**options, **self.storage_options}


class Config(BaseModel):
    """Every setting: the default store, defaults per protocol, and the named stores.

    Attributes:
        default_store: The store :meth:`store` returns when given no name.
        s3: Defaults for every ``s3://`` store.
        gcs: Defaults for every ``gs://`` store.
        stores: The named stores, by lower-cased name.
    """

    model_config = ConfigDict(extra="forbid")

    default_store: str | None = None
    s3: StoreSettings = Field(default_factory=StoreSettings)
    gcs: StoreSettings = Field(default_factory=StoreSettings)
    stores: dict[str, StoreConfig] = Field(default_factory=dict)
    _sources: str = PrivateAttr(default="defaults")

    def store(self, name: str | None = None) -> StoreConfig:
        """The store called ``name`` with its protocol's defaults filled in.

        Args:
            name: A configured store's name (case-insensitive); or a URL or path, which
                gets its protocol's defaults; by default ``default_store``.

        Raises:
            ConfigError: If no store has that name.
        """
        if name is None:
            name = self.default_store
            if name is None:
                raise ConfigError(
                    f"no store was named and no default_store is set ({self._sources}): name "
                    "a store, or set default_store in the config file or "
                    "OCTSTORE_DEFAULT_STORE"
                )
        entry = self.stores.get(name.lower())
        if entry is None:
            if "://" not in name and os.sep not in name and "/" not in name:
                known = ", ".join(sorted(self.stores)) or "none"
                raise ConfigError(
                    f"no store named {name!r} ({self._sources}; configured: {known}): add "
                    f"[stores.{name.lower()}] with a url to the config file, set "
                    f"OCTSTORE_STORES__{name.upper().replace('-', '_')}__URL, or give a URL"
                )
            entry = StoreConfig(url=name)
        section = _PROTOCOL_SECTIONS.get(entry.protocol)
        if section is None:
            return entry
        defaults: StoreSettings = getattr(self, section)
        merged = {
            **defaults.model_dump(exclude_unset=True),
            **entry.model_dump(exclude_unset=True),
        }
        merged["storage_options"] = {**defaults.storage_options, **entry.storage_options}
        return StoreConfig.model_validate(merged)

    def to_dict(self) -> dict[str, Any]:
        """Every setting that is set, JSON-safe, with secrets masked (see
        :meth:`StoreSettings.to_dict`)."""
        document: dict[str, Any] = {}
        if self.default_store is not None:
            document["default_store"] = self.default_store
        for section in ("s3", "gcs"):
            settings = getattr(self, section).to_dict()
            if settings:
                document[section] = settings
        if self.stores:
            document["stores"] = {name: store.to_dict() for name, store in self.stores.items()}
        return document


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file's path: ``OCTSTORE_CONFIG``, else ``config.toml`` in the user config
    directory (which need not exist)."""
    environ = os.environ if environ is None else environ
    configured = environ.get("OCTSTORE_CONFIG")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir("octstore")) / "config.toml"


def load(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """The configuration: ``OCTSTORE_*`` variables over the TOML file.

    Args:
        path: The TOML file; by default :func:`config_path` (skipped if it is not there,
            unless ``OCTSTORE_CONFIG`` names it).
        environ: The environment; by default ``os.environ``.

    Raises:
        ConfigError: If the file is missing (when named), is not TOML, or a setting is
            invalid. The message names the setting, never its value.
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None or bool(environ.get("OCTSTORE_CONFIG"))
    file = Path(path) if path is not None else config_path(environ)
    document: dict[str, Any] = {}
    sources = []
    if file.is_file():
        try:
            document = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{file} is not valid TOML ({error}): fix it") from None
        sources.append(str(file))
    elif explicit:
        raise ConfigError(
            f"the config file {file} does not exist: create it, or unset OCTSTORE_CONFIG"
        )
    if isinstance(document.get("stores"), dict):
        document["stores"] = {str(k).lower(): v for k, v in document["stores"].items()}
    overrides = _from_environment(environ)
    if overrides:
        sources.append("OCTSTORE_* variables")
    merged = _merge(document, overrides)
    try:
        config = Config.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        where = " and ".join(sources) or "defaults"
        raise ConfigError(f"invalid octstore configuration in {where}: {problems}") from None
    config._sources = " and ".join(sources) or "no config file, no OCTSTORE_* variables"
    return config


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings in ``OCTSTORE_*`` variables, nested as in the TOML file."""
    document: dict[str, Any] = {}
    for variable, value in environ.items():
        if not variable.startswith(_PREFIX):
            continue
        parts = [part.lower() for part in variable[len(_PREFIX) :].split("__")]
        if parts == ["default_store"]:
            document["default_store"] = value
        elif len(parts) == 2 and parts[0] in ("s3", "gcs"):
            document.setdefault(parts[0], {})[parts[1]] = _value(variable, parts[1], value)
        elif len(parts) == 3 and parts[0] == "stores":
            store = document.setdefault("stores", {}).setdefault(parts[1], {})
            store[parts[2]] = _value(variable, parts[2], value)
        elif len(parts) > 1:
            raise ConfigError(
                f"{variable} is not an octstore setting: use OCTSTORE_DEFAULT_STORE, "
                "OCTSTORE_S3__<FIELD>, OCTSTORE_GCS__<FIELD> or OCTSTORE_STORES__<NAME>__<FIELD>"
            )
    return document


def _value(variable: str, field: str, value: str) -> Any:
    if field != "storage_options":
        return value
    try:
        options = json.loads(value)
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise ConfigError(f'{variable} is not a JSON object: write it as {{"name": value}}')
    return options


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
