"""``Datafile.open()`` as the builtin's: a plain call, ``close()`` storing what a ``with`` block
stores, an unclosed file storing nothing; and pathlib's ``read_text``, ``read_bytes``,
``write_text``, ``write_bytes`` and ``exists()``. The same on every backend."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from octstore import ConflictError, Datafile, NotFoundError, OctstoreWarning
from tests.conftest import Backend

ROOT = Path(__file__).resolve().parent.parent


def make(backend: Backend, name: str = "data.csv", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def collect(files: list[Any]) -> None:
    """Drop the only references to ``files`` and collect garbage, as when they go out of
    scope unclosed."""
    files.clear()
    gc.collect()


# --- open() without a with block ----------------------------------------------------------


def test_close_writes_the_content_and_metadata(backend: Backend) -> None:
    df = make(backend, labels=["raw"], tags={"site": "north"})

    f = df.open("w")
    f.write("speed\n4.2\n")
    f.close()

    assert backend.read("data.csv") == b"speed\n4.2\n"
    stored = make(backend)
    assert stored.labels == {"raw"}
    assert stored.tags == {"site": "north"}


def test_nothing_is_written_before_close(backend: Backend) -> None:
    backend.write("data.csv", b"original")
    f = make(backend).open("w")
    f.write("new")
    f.flush()

    assert backend.read("data.csv") == b"original"
    f.close()
    assert backend.read("data.csv") == b"new"


def test_reading_without_a_with_block(backend: Backend) -> None:
    backend.write("data.csv", b"a\nb\n")

    f = make(backend).open()
    lines = list(f)
    f.close()

    assert lines == ["a\n", "b\n"]
    assert f.closed


def test_plain_file_delegates_to_the_file(backend: Backend) -> None:
    backend.write("data.bin", b"0123456789")
    f = make(backend, "data.bin").open("rb")

    f.seek(4)
    assert f.read(3) == b"456"
    assert f.tell() == 7
    assert f.readable()
    assert not f.writable()
    assert "data.bin" in repr(f)
    f.close()


def test_closing_twice_writes_once(backend: Backend) -> None:
    f = make(backend).open("w")
    f.write("once")
    f.close()
    backend.write("data.csv", b"theirs")

    f.close()

    assert backend.read("data.csv") == b"theirs"


def test_close_after_someone_else_wrote_raises_conflict_and_keeps_the_content(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"original")
    f = make(backend).open("w")
    f.write("mine")
    backend.write("data.csv", b"theirs")

    with pytest.raises(ConflictError) as caught:
        f.close()

    assert backend.read("data.csv") == b"theirs"
    assert caught.value.kept_at is not None
    assert Path(caught.value.kept_at).read_bytes() == b"mine"
    f.close()  # closed already: nothing more happens


def test_the_file_object_works_as_a_with_block_too(backend: Backend) -> None:
    f = make(backend).open("w")

    with f as inner:
        inner.write("in a block")

    assert f.closed
    assert backend.read("data.csv") == b"in a block"


def test_a_with_block_that_raises_writes_nothing_and_close_then_does_nothing(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"original")
    f = make(backend).open("w")

    with pytest.raises(RuntimeError), f:
        f.write("partial")
        raise RuntimeError

    f.close()
    assert backend.read("data.csv") == b"original"


def test_an_unclosed_file_garbage_collected_writes_nothing_and_warns(backend: Backend) -> None:
    backend.write("data.csv", b"original")
    files = [make(backend).open("w")]
    files[0].write("lost")
    temporary = files[0].name

    with pytest.warns(OctstoreWarning, match=r"data\.csv.*never closed: nothing was written"):
        collect(files)

    assert backend.read("data.csv") == b"original"
    assert not os.path.exists(temporary)


def test_an_unclosed_new_file_garbage_collected_is_not_created(backend: Backend) -> None:
    files = [make(backend, "new.csv").open("w")]
    files[0].write("lost")

    with pytest.warns(OctstoreWarning, match="never closed"):
        collect(files)

    assert not make(backend, "new.csv").exists()


def test_an_unclosed_file_read_and_garbage_collected_warns_as_the_builtin_does(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"content")
    files = [make(backend).open()]
    assert files[0].read() == "content"

    with pytest.warns(ResourceWarning, match=r"unclosed datafile .*data\.csv"):
        collect(files)


def test_metadata_set_while_open_is_stored_on_close(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    df = make(backend)

    f = df.open()
    df.labels.add("read")
    f.close()

    assert make(backend).labels == {"read"}


def test_a_process_that_exits_without_closing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("original")
    program = (
        "import sys; from octstore import Datafile; "
        "f = Datafile(sys.argv[1]).open('w'); f.write('lost')"
    )

    subprocess.run([sys.executable, "-c", program, str(path)], check=True, cwd=ROOT)

    assert path.read_text() == "original"
    assert os.listdir(tmp_path) == ["data.csv"]


# --- pathlib's verbs ----------------------------------------------------------------------


def test_write_text_then_read_text_round_trips(backend: Backend) -> None:
    df = make(backend)

    written = df.write_text("åsgard\nline\n", encoding="utf-8")

    assert written == len("åsgard\nline\n")
    assert make(backend).read_text(encoding="utf-8") == "åsgard\nline\n"
    assert backend.read("data.csv") == "åsgard\nline\n".encode()


def test_write_text_stores_metadata(backend: Backend) -> None:
    make(backend, tags={"k": 1}).write_text("x")

    assert make(backend).tags == {"k": 1}


def test_write_text_newline_and_errors_are_pathlibs(backend: Backend) -> None:
    df = make(backend)

    df.write_text("a\nb\n", encoding="ascii", newline="\r\n")
    assert backend.read("data.csv") == b"a\r\nb\r\n"
    df.write_text("é", encoding="ascii", errors="replace")
    assert backend.read("data.csv") == b"?"
    assert df.read_text() == "?"


def test_read_text_decodes_with_errors(backend: Backend) -> None:
    backend.write("data.csv", b"caf\xe9")

    assert make(backend).read_text(encoding="utf-8", errors="replace") == "caf\ufffd"
    with pytest.raises(UnicodeDecodeError):
        make(backend).read_text(encoding="utf-8")


def test_write_text_refuses_bytes_and_writes_nothing(backend: Backend) -> None:
    backend.write("data.csv", b"original")

    with pytest.raises(TypeError, match="data must be str, not bytes"):
        make(backend).write_text(b"bytes")  # type: ignore[arg-type]

    assert backend.read("data.csv") == b"original"


def test_write_text_that_cannot_be_encoded_writes_nothing(backend: Backend) -> None:
    backend.write("data.csv", b"original")

    with pytest.raises(UnicodeEncodeError):
        make(backend).write_text("é", encoding="ascii")

    assert backend.read("data.csv") == b"original"


def test_write_bytes_then_read_bytes_round_trips(backend: Backend) -> None:
    df = make(backend, "data.bin")

    assert df.write_bytes(b"\x00\x01\xff") == 3
    assert df.write_bytes(bytearray(b"\x00\x01\xff\x02")) == 4

    assert make(backend, "data.bin").read_bytes() == b"\x00\x01\xff\x02"


def test_read_bytes_of_a_missing_file_raises_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError, match=r"missing\.bin"):
        make(backend, "missing.bin").read_bytes()


def test_exists_says_whether_the_file_is_there(backend: Backend) -> None:
    df = make(backend)
    assert not df.exists()

    backend.write("data.csv", b"x")
    assert df.exists()

    df.delete()
    assert not df.exists()


def test_read_bytes_and_read_text_of_an_hdf5_file_give_its_raw_content(backend: Backend) -> None:
    backend.write("raw.h5", b"\x89HDF\r\n")

    assert make(backend, "raw.h5").read_bytes() == b"\x89HDF\r\n"
    assert make(backend, "raw.h5").read_text(encoding="latin-1", errors="strict") == "\x89HDF\n"
