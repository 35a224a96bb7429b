"""The package's layout stays as the architecture page draws it.

- No module is longer than 400 lines: a longer one is doing two things.
- No import cycle between modules, imports inside functions included (they only hide a
  cycle); imports for type checking only are never run, so they are left out.
- No module imports a ``_private`` name, or a module with a ``_private`` name, from another
  subpackage: subpackages meet through public names only.
- Lower layers never import higher ones.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "octstore"
MAX_LINES = 400
#: The layers, lowest first: a module may import its own layer and those below it.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {"__about__", "redaction", "errors", "hashing", "buckets", "protocols", "relative_paths"}
        | {"chains"}
    ),
    frozenset({"location", "path_objects", "config", "metadata", "state"}),
    frozenset({"cache", "backends", "signing"}),
    frozenset({"datafile"}),
    frozenset({"filters", "dataset", "store"}),
    frozenset({"http", "http_headers", "http_preconditions"}),
    frozenset({"cli", "__init__", "__main__"}),
)


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(name: str, *, run: bool = False) -> Iterator[tuple[str, str | None, int]]:
    """(module imported, name imported from it or None, line) for each import in ``name``;
    with ``run``, only those that run (not those under ``if TYPE_CHECKING:``)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    for_types = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if run and id(node) in for_types:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in MODULES:
                    yield submodule, None, node.lineno
                else:
                    yield base, alias.name, node.lineno


def _subpackage(module: str) -> str:
    """The part of the package ``module`` belongs to (``octstore.cache.files`` -> ``cache``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(module: str) -> int:
    part = _subpackage(module)
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"{module} is in no layer: add {part!r} to LAYERS in {__file__}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_longer_than_400_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by what it does"


def test_no_import_cycle() -> None:
    graph = {
        name: {imported for imported, _, _ in _imports(name, run=True) if imported in MODULES}
        for name in MODULES
    }
    # A package imports its own submodules to re-export them; that is not a cycle.
    for name, imported in graph.items():
        graph[name] = {other for other in imported if not name.startswith(f"{other}.")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_private_name_is_imported_from_another_subpackage() -> None:
    offences = []
    for name in MODULES:
        for imported, member, line in _imports(name):
            if not imported.startswith("octstore") or _subpackage(imported) == _subpackage(name):
                continue
            private_module = any(
                part.startswith("_") and not part.startswith("__") for part in imported.split(".")
            )
            dunder = member is not None and member.startswith("__") and member.endswith("__")
            if private_module or (member is not None and member.startswith("_") and not dunder):
                offences.append(f"{name}:{line} imports {member or imported} from {imported}")
    assert not offences, "\n".join(offences)


def test_lower_layers_never_import_higher_ones() -> None:
    offences = []
    for name in MODULES:
        for imported, _, line in _imports(name):
            if imported.startswith("octstore") and _layer(imported) > _layer(name):
                offences.append(f"{name}:{line} imports {imported}, a higher layer")
    assert not offences, "\n".join(offences)


def test_the_checks_see_the_whole_package() -> None:
    """The checks above read every module (a wrong root would make them pass vacuously)."""
    assert len(MODULES) > 40
    assert "octstore.datafile.datafile" in MODULES
    assert any(
        imported == "octstore.location" for imported, _, _ in _imports("octstore.cache.entries")
    )
