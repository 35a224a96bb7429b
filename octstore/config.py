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
write ``-`` as ``_``). ``STORAGE_OPTIONS`` variables hold JSON. pydantic-settings reads both
sources (:class:`Config` is a ``BaseSettings``); :func:`load` names them.

Credentials are optional. Without them, S3 uses the AWS chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws``, instance roles ...) and GCS the
Google application default credentials. Secret fields (``access_key_id``,
``secret_access_key``, ``session_token``, ``token``) are ``pydantic.SecretStr``: they never
appear in a ``repr``, in :meth:`StoreSettings.to_dict` or in an error message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import platformdirs
from fsspec.core import split_protocol
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from octstore.errors import ConfigError
from octstore.protocols import lookup
from octstore.redaction import redact

__all__ = ["Config", "StoreConfig", "StoreSettings", "config_path", "load"]

_PREFIX = "OCTSTORE_"
_SECTIONS = ("s3", "gcs")
_S3_ONLY = ("region", "profile", "access_key_id", "secret_access_key", "session_token")
_GCS_ONLY = ("project", "token")
#: Store fields a variable may give as a JSON list or as text separated by commas.
_TOKEN_LISTS = ("upload_tokens", "read_tokens")
# What :func:`load` is reading: the TOML file and the OCTSTORE_* variables, by lower-cased
# name. BaseSettings asks its class, not the call, for sources; this carries the call's.
_READING: ContextVar[tuple[Path, dict[str, str]] | None] = ContextVar("_READING", default=None)


def _section_for(protocol: str) -> str | None:
    """The config section (``"s3"``, ``"gcs"``) with the defaults for ``protocol``'s stores."""
    return lookup(protocol).config_section


def _revealed(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


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
        upload_tokens: Bearer tokens that may upload to the store over HTTP (and read).
        read_tokens: Bearer tokens that may read; with any, reads need a token or a link.
        link_secret: The key that signs expiring links to single handles.
        protect_reads: Reads over HTTP need a token or a link even with no read tokens.

    Tokens may be given as a list, or in a variable as a JSON list or separated by commas.
    See :mod:`octstore.store.access`.
    """

    url: str
    upload_tokens: list[SecretStr] = Field(default_factory=list)
    read_tokens: list[SecretStr] = Field(default_factory=list)
    link_secret: SecretStr | None = None
    protect_reads: bool = False

    @field_validator(*_TOKEN_LISTS, mode="before")
    @classmethod
    def _one_token(cls, value: Any) -> Any:
        """One token given as text, as a list of one."""
        return [value] if isinstance(value, str) else value

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
        section = _section_for(self.protocol)
        wrong = {"s3": _GCS_ONLY, "gcs": _S3_ONLY}.get(section or "", (*_S3_ONLY, *_GCS_ONLY))
        misplaced = [name for name in wrong if getattr(self, name) is not None]
        if misplaced or (section is None and self.endpoint_url is not None):
            fields = ", ".join(misplaced or ["endpoint_url"])
            raise ConfigError(
                f"store {self.url}: {fields} do(es) not apply to {self.protocol}:// stores; "
                "remove them, or put backend-specific options in storage_options"
            )
        options: dict[str, Any] = {"endpoint_url": self.endpoint_url}
        if section == "s3":
            options |= {
                "client_kwargs": None if self.region is None else {"region_name": self.region},
                "profile": self.profile,
                "key": _revealed(self.access_key_id),
                "secret": _revealed(self.secret_access_key),
                "token": _revealed(self.session_token),
                "anon": self.anonymous,
            }
        elif section == "gcs":
            options |= {
                "project": self.project,
                "token": "anon" if self.anonymous else _revealed(self.token),
            }
        options = {name: value for name, value in options.items() if value is not None}
        return {**options, **self.storage_options}


class Config(BaseSettings):
    """Every setting: the default store, defaults per protocol, and the named stores.

    :func:`load` fills it from the TOML file and the ``OCTSTORE_*`` variables; made directly
    (``Config(stores={...})`` or ``Config.model_validate``), it holds what it is given.

    Attributes:
        default_store: The store :meth:`store` returns when given no name.
        s3: Defaults for every ``s3://`` store.
        gcs: Defaults for every ``gs://`` store.
        stores: The named stores, by lower-cased name.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX, env_nested_delimiter="__", extra="forbid")

    default_store: str | None = None
    s3: StoreSettings = Field(default_factory=StoreSettings)
    gcs: StoreSettings = Field(default_factory=StoreSettings)
    stores: dict[str, StoreConfig] = Field(default_factory=dict)
    _sources: str = PrivateAttr(default="defaults")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Where values come from, the first to set one winning: the keyword arguments;
        then, under :func:`load`, the ``OCTSTORE_*`` variables and the TOML file."""
        reading = _READING.get()
        if reading is None:
            return (init_settings,)
        file, variables = reading
        environment = EnvSettingsSource(settings_cls)
        environment.env_vars = variables  # load()'s environment, not necessarily os.environ
        try:
            toml = TomlConfigSettingsSource(settings_cls, file)
        except ValueError as error:  # TOMLDecodeError, UnicodeDecodeError
            raise ConfigError(f"{file} is not valid TOML ({error}): fix it") from None
        # Store names are case-insensitive: the file's are lower-cased, as the variables'
        # are, so that a variable merges into the file's store of that name.
        stores = toml.init_kwargs.get("stores")
        if isinstance(stores, dict):
            toml.init_kwargs["stores"] = {str(k).lower(): v for k, v in stores.items()}
        return init_settings, environment, toml

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
        section = _section_for(entry.protocol)
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
        document = {
            "default_store": self.default_store,
            **{section: getattr(self, section).to_dict() for section in _SECTIONS},
            "stores": {name: store.to_dict() for name, store in self.stores.items()},
        }
        return {key: value for key, value in document.items() if value not in (None, {})}


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
    file = Path(path) if path is not None else config_path(environ)
    if not file.is_file() and (path is not None or environ.get("OCTSTORE_CONFIG")):
        raise ConfigError(
            f"the config file {file} does not exist: create it, or unset OCTSTORE_CONFIG"
        )
    variables = _settings_variables(environ)
    sources = [str(file)] if file.is_file() else []
    sources += ["OCTSTORE_* variables"] if variables else []
    reading = _READING.set((file, variables))
    try:
        config = Config()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        where = " and ".join(sources) or "defaults"
        raise ConfigError(f"invalid octstore configuration in {where}: {problems}") from None
    finally:
        _READING.reset(reading)
    config._sources = " and ".join(sources) or "no config file, no OCTSTORE_* variables"
    return config


def _settings_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``OCTSTORE_*`` variables that hold settings, by lower-cased name; the others
    (``OCTSTORE_CONFIG``, ``OCTSTORE_CACHE_DIR`` ...) belong to other parts of octstore.

    Raises:
        ConfigError: If a nested variable is not a setting, or holds storage options that
            are not a JSON object.
    """
    variables: dict[str, str] = {}
    for variable, value in environ.items():
        parts = variable[len(_PREFIX) :].lower().split("__")
        if not variable.startswith(_PREFIX) or (len(parts) == 1 and parts != ["default_store"]):
            continue
        if not (
            parts == ["default_store"]
            or (len(parts) == 2 and parts[0] in _SECTIONS)
            or (len(parts) == 3 and parts[0] == "stores")
        ):
            raise ConfigError(
                f"{variable} is not an octstore setting: use OCTSTORE_DEFAULT_STORE, "
                "OCTSTORE_S3__<FIELD>, OCTSTORE_GCS__<FIELD> or OCTSTORE_STORES__<NAME>__<FIELD>"
            )
        if parts[-1] == "storage_options" and not _is_json_object(value):
            raise ConfigError(f'{variable} is not a JSON object: write it as {{"name": value}}')
        if parts[-1] in _TOKEN_LISTS and not value.lstrip().startswith("["):
            value = json.dumps([token.strip() for token in value.split(",") if token.strip()])
        variables[variable.lower()] = value
    return variables


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
