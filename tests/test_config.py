"""Configuration: named stores and defaults from OCTSTORE_* variables over a TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from octstore import ConfigError, Store
from octstore.config import Config, config_path, load
from tests.servers import DUMMY_AWS_CREDENTIALS, GCS_BUCKET, S3_BUCKET

SECRET = "hunter2-very-secret"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_named_stores_come_from_the_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
default_store = "attachments"

[stores.Attachments]
url = "s3://bucket/attachments"
region = "eu-west-1"

[stores.scratch]
url = "/srv/scratch"
""",
    )

    config = load(path, environ={})

    assert sorted(config.stores) == ["attachments", "scratch"]
    assert config.store().url == "s3://bucket/attachments"
    assert config.store("ATTACHMENTS").to_storage_options() == {
        "client_kwargs": {"region_name": "eu-west-1"}
    }
    assert config.store("scratch").to_storage_options() == {}


def test_the_file_is_found_by_octstore_config_or_in_the_user_config_dir(tmp_path: Path) -> None:
    path = write(tmp_path, '[stores.a]\nurl = "/a"\n')

    assert config_path({"OCTSTORE_CONFIG": str(path)}) == path
    assert config_path({}).name == "config.toml"
    assert load(environ={"OCTSTORE_CONFIG": str(path)}).store("a").url == "/a"


def test_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[stores.main]\nurl = "s3://old/prefix"\nregion = "eu-west-1"\n')

    config = load(
        path,
        environ={
            "OCTSTORE_STORES__MAIN__URL": "s3://new/prefix",
            "OCTSTORE_STORES__EXTRA__URL": "gs://bucket/extra",
            "OCTSTORE_DEFAULT_STORE": "extra",
            "OCTSTORE_S3__ENDPOINT_URL": "http://127.0.0.1:9000",
            "OCTSTORE_STORES__MAIN__STORAGE_OPTIONS": '{"use_ssl": false}',
            "OCTSTORE_CACHE_DIR": "/not/a/setting/of/this/model",
        },
    )

    main = config.store("main")
    assert main.url == "s3://new/prefix"
    assert main.to_storage_options() == {
        "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
        "use_ssl": False,
    }
    assert config.store().url == "gs://bucket/extra"


def test_protocol_defaults_fill_what_a_store_leaves_out(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[s3]
endpoint_url = "http://minio:9000"
region = "us-east-1"

[gcs]
project = "my-project"

[stores.here]
url = "s3://bucket/here"
region = "eu-north-1"

[stores.there]
url = "gs://bucket/there"
""",
    )

    config = load(path, environ={})

    assert config.store("here").to_storage_options() == {
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"region_name": "eu-north-1"},
    }
    assert config.store("there").to_storage_options() == {"project": "my-project"}
    assert config.store("s3://other/prefix").to_storage_options() == {
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    assert config.store("/local/dir").to_storage_options() == {}


def test_s3_credentials_map_to_s3fs_options_and_default_to_the_aws_chain() -> None:
    config = Config.model_validate(
        {
            "stores": {
                "keyed": {
                    "url": "s3://b/p",
                    "access_key_id": "AKIA-id",
                    "secret_access_key": SECRET,
                    "session_token": "session",
                    "profile": "prod",
                },
                "chained": {"url": "s3://b/p"},
                "public": {"url": "s3://b/p", "anonymous": True},
            }
        }
    )

    assert config.store("keyed").to_storage_options() == {
        "profile": "prod",
        "key": "AKIA-id",
        "secret": SECRET,
        "token": "session",
    }
    assert config.store("chained").to_storage_options() == {}  # botocore's own chain
    assert config.store("public").to_storage_options() == {"anon": True}


def test_gcs_credentials_default_to_application_default_credentials() -> None:
    config = Config.model_validate(
        {
            "stores": {
                "keyed": {"url": "gs://b/p", "token": "/keys/service-account.json"},
                "adc": {"url": "gs://b/p", "project": "p"},
                "public": {"url": "gs://b/p", "anonymous": True},
            }
        }
    )

    assert config.store("keyed").to_storage_options() == {"token": "/keys/service-account.json"}
    assert config.store("adc").to_storage_options() == {"project": "p"}  # gcsfs: google_default
    assert config.store("public").to_storage_options() == {"token": "anon"}


@pytest.mark.parametrize(
    ("store", "field"),
    [
        ({"url": "s3://b/p", "project": "p"}, "project"),
        ({"url": "gs://b/p", "region": "eu-west-1"}, "region"),
        ({"url": "/local", "endpoint_url": "http://x"}, "endpoint_url"),
    ],
)
def test_fields_of_another_backend_are_refused(store: dict[str, Any], field: str) -> None:
    config = Config.model_validate({"stores": {"x": store}})

    with pytest.raises(ConfigError, match=field):
        config.store("x").to_storage_options()


def test_an_unknown_store_says_how_to_define_it(tmp_path: Path) -> None:
    config = load(write(tmp_path, '[stores.main]\nurl = "/a"\n'), environ={})

    with pytest.raises(ConfigError) as raised:
        config.store("my-store")

    message = str(raised.value)
    assert "configured: main" in message
    assert "[stores.my-store]" in message
    assert "OCTSTORE_STORES__MY_STORE__URL" in message


def test_no_name_and_no_default_store_is_an_error() -> None:
    with pytest.raises(ConfigError, match="default_store"):
        load(environ={"OCTSTORE_CONFIG": ""}, path=None).store()


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(environ={"OCTSTORE_CONFIG": str(tmp_path / "nowhere.toml")})


def test_invalid_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[stores.main\nurl = 1\n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("OCTSTORE_STORES__MAIN__ENDPOINTURL", "http://x", "stores.main.endpointurl"),
        ("OCTSTORE_S3__NOPE", "1", "s3.nope"),
        ("OCTSTORE_STORES__MAIN__URL__X", "1", "OCTSTORE_STORES__MAIN__URL__X"),
        ("OCTSTORE_STORES__MAIN__STORAGE_OPTIONS", "not json", "STORAGE_OPTIONS"),
    ],
)
def test_unknown_or_malformed_variables_are_errors(variable: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(environ={variable: value, "OCTSTORE_STORES__MAIN__URL": "/a"})

    assert named in str(raised.value)


def test_secrets_never_show(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[s3]
secret_access_key = "{SECRET}"

[stores.main]
url = "s3://bucket/prefix"
access_key_id = "{SECRET}-id"
storage_options = {{ secret = "{SECRET}-option", use_ssl = true }}

[stores.gcs]
url = "gs://bucket/prefix"
token = "{SECRET}-token"
""",
    )

    config = load(path, environ={"OCTSTORE_STORES__MAIN__SESSION_TOKEN": f"{SECRET}-session"})
    main = config.store("main")

    shown = [repr(config), str(config), repr(main), str(config.to_dict()), str(main.to_dict())]
    shown.append(repr(Store(main.url, main.to_storage_options())))
    for text in shown:
        assert SECRET not in text
    assert main.to_dict()["storage_options"] == {"use_ssl": True}
    assert main.to_dict()["access_key_id"] == "**********"
    assert main.to_storage_options()["secret"] == f"{SECRET}-option"  # for fsspec only


@pytest.mark.parametrize(
    "text",
    [
        f'[stores.main]\nurl = "/a"\nregion = ["{SECRET}"]\n',
        f'[stores.main]\nurl = "/a"\naccess_key_id = ["{SECRET}"]\n',
        f'[stores.main]\nurl = "/a"\nsecret_key = "{SECRET}"\n',
        f'default_store = ["{SECRET}"]\n',
    ],
)
def test_errors_never_show_the_values(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text), environ={})

    assert SECRET not in str(raised.value)
    assert "stores.main" in str(raised.value) or "default_store" in str(raised.value)


# --- every source: the TOML file, OCTSTORE_* variables, both, neither ---------------------


@pytest.fixture
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default config file (in the user config directory) is not there."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))


def test_settings_come_from_the_toml_file_alone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
default_store = "main"

[s3]
region = "eu-west-1"

[stores.main]
url = "s3://bucket/main"
storage_options = { use_ssl = false }
""",
    )

    config = load(path, environ={})

    assert config.default_store == "main"
    assert config.store().to_storage_options() == {
        "client_kwargs": {"region_name": "eu-west-1"},
        "use_ssl": False,
    }
    with pytest.raises(ConfigError) as raised:
        config.store("other")
    assert f"({path}; configured: main)" in str(raised.value)


def test_settings_come_from_variables_alone(no_user_config: None) -> None:
    config = load(
        environ={
            "OCTSTORE_DEFAULT_STORE": "main",
            "OCTSTORE_S3__REGION": "eu-west-1",
            "OCTSTORE_GCS__PROJECT": "my-project",
            "OCTSTORE_STORES__MAIN__URL": "s3://bucket/main",
            "OCTSTORE_STORES__MAIN__ANONYMOUS": "true",
            "OCTSTORE_STORES__MAIN__STORAGE_OPTIONS": '{"use_ssl": false}',
            "OCTSTORE_STORES__ARCHIVE__URL": "gs://bucket/archive",
        }
    )

    assert config.store().to_storage_options() == {
        "client_kwargs": {"region_name": "eu-west-1"},
        "anon": True,
        "use_ssl": False,
    }
    assert config.store("archive").to_storage_options() == {"project": "my-project"}
    with pytest.raises(ConfigError) as raised:
        config.store("other")
    assert "(OCTSTORE_* variables; configured: archive, main)" in str(raised.value)


def test_neither_file_nor_variables_gives_the_defaults(no_user_config: None) -> None:
    config = load(environ={"OCTSTORE_CACHE_DIR": "/not/a/setting/of/this/model"})

    assert config.model_dump() == Config().model_dump()
    assert config.to_dict() == {}
    assert config.store("s3://bucket/prefix").to_storage_options() == {}
    with pytest.raises(ConfigError, match="no config file, no OCTSTORE_"):
        config.store()


def test_a_variable_wins_over_the_file_field_by_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[stores.Main]
url = "s3://bucket/main"
region = "eu-west-1"
profile = "file"
storage_options = { use_ssl = false, max_concurrency = 4 }
""",
    )

    config = load(
        path,
        environ={
            "OCTSTORE_STORES__MAIN__PROFILE": "variable",
            "OCTSTORE_STORES__main__STORAGE_OPTIONS": '{"max_concurrency": 8}',
        },
    )

    assert sorted(config.stores) == ["main"]
    assert config.store("main").to_storage_options() == {
        "client_kwargs": {"region_name": "eu-west-1"},
        "profile": "variable",
        "use_ssl": False,
        "max_concurrency": 8,
    }


@pytest.mark.parametrize(
    ("field", "toml", "variable"),
    [
        ("endpoint_url", '"http://minio:9000"', "http://minio:9000"),
        ("region", '"eu-west-1"', "eu-west-1"),
        ("profile", '"production"', "production"),
        ("access_key_id", '"AKIA-id"', "AKIA-id"),
        ("secret_access_key", f'"{SECRET}"', SECRET),
        ("session_token", '"session"', "session"),
        ("anonymous", "true", "true"),
        ("storage_options", "{ use_ssl = false }", '{"use_ssl": false}'),
    ],
)
@pytest.mark.parametrize("section", ["stores.main", "s3"])
def test_every_field_reads_the_same_from_the_file_and_a_variable(
    tmp_path: Path, section: str, field: str, toml: str, variable: str
) -> None:
    store, setting = '[stores.main]\nurl = "s3://bucket/main"\n', f"{field} = {toml}\n"
    text = store + setting if section == "stores.main" else f"{store}[s3]\n{setting}"
    from_file = load(write(tmp_path, text), environ={})
    name = "OCTSTORE_" + section.upper().replace(".", "__") + "__" + field.upper()
    from_variable = load(write(tmp_path, store), environ={name: variable})

    assert from_file.store("main").to_storage_options() == (
        from_variable.store("main").to_storage_options()
    )
    assert from_file.store("main").to_storage_options() != {}


@pytest.mark.parametrize(
    ("toml", "variable", "named"),
    [
        ('[s3]\nanonymous = "maybe"\n', ("OCTSTORE_S3__ANONYMOUS", "maybe"), "s3.anonymous"),
        (
            '[stores.main]\nurl = "/a"\nanonymous = "maybe"\n',
            ("OCTSTORE_STORES__MAIN__ANONYMOUS", "maybe"),
            "stores.main.anonymous",
        ),
        ("[gcs]\nprojekt = 1\n", ("OCTSTORE_GCS__PROJEKT", "1"), "gcs.projekt"),
    ],
)
def test_a_bad_value_gives_the_same_error_from_the_file_or_a_variable(
    tmp_path: Path, no_user_config: None, toml: str, variable: tuple[str, str], named: str
) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as from_file:
        load(path, environ={"OCTSTORE_STORES__MAIN__URL": "/a"})
    with pytest.raises(ConfigError) as from_variable:
        load(environ=dict([variable]) | {"OCTSTORE_STORES__MAIN__URL": "/a"})

    file_message, variable_message = str(from_file.value), str(from_variable.value)
    assert file_message.startswith(
        f"invalid octstore configuration in {path} and OCTSTORE_* variables: {named}: "
    )
    assert variable_message.startswith(
        f"invalid octstore configuration in OCTSTORE_* variables: {named}: "
    )
    assert file_message.split(": ", 1)[1] == variable_message.split(": ", 1)[1]


def test_an_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="colour: Extra inputs are not permitted"):
        load(write(tmp_path, 'colour = "blue"\n'), environ={})


def test_a_config_made_directly_reads_neither_file_nor_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_CONFIG", str(write(tmp_path, '[stores.file]\nurl = "/f"\n')))
    monkeypatch.setenv("OCTSTORE_STORES__VARIABLE__URL", "/v")
    assert sorted(load().stores) == ["file", "variable"]

    assert Config().stores == {}
    assert Config(default_store="given").to_dict() == {"default_store": "given"}


# --- real servers -------------------------------------------------------------------------


def test_from_config_reaches_s3_with_the_configured_endpoint_and_keys(
    s3fs_fs: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    path = write(
        tmp_path,
        f"""
default_store = "attachments"

[s3]
endpoint_url = "{s3_server.endpoint_url}"

[stores.attachments]
url = "s3://{S3_BUCKET}/attachments"
access_key_id = "{DUMMY_AWS_CREDENTIALS["key"]}"
secret_access_key = "{DUMMY_AWS_CREDENTIALS["secret"]}"
""",
    )
    monkeypatch.setenv("OCTSTORE_CONFIG", str(path))

    store = Store.from_config()
    handle = store.add("memo.txt", b"Feed the cats!")

    assert store.url == f"s3://{S3_BUCKET}/attachments"
    assert s3fs_fs.cat(f"{S3_BUCKET}/attachments/{handle[:2]}/{handle[2:4]}/{handle[:64]}") == (
        b"Feed the cats!"
    )


def test_from_config_falls_back_to_the_aws_chain(
    s3fs_fs: Any, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_STORES__MAIN__URL", f"s3://{S3_BUCKET}/main")
    monkeypatch.setenv("OCTSTORE_STORES__MAIN__ENDPOINT_URL", s3_server.endpoint_url)

    store = Store.from_config("main")  # keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY

    handle = store.add("memo.txt", b"Feed the cats!")
    assert handle in store


def test_from_config_reaches_gcs_with_the_configured_endpoint(
    gcs_fs: Any, gcs_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_GCS__ENDPOINT_URL", gcs_server.endpoint_url)
    monkeypatch.setenv("OCTSTORE_GCS__ANONYMOUS", "true")

    store = Store.from_config(f"gs://{GCS_BUCKET}/attachments")

    handle = store.add("memo.txt", b"Feed the cats!")
    with store.open(handle) as file:
        assert file.read() == b"Feed the cats!"
