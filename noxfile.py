"""Sessions: ``tests`` (the suite), ``slow`` (its long variants), ``readme`` (the README's
set-up from a clean clone), ``oldest`` (the backend tests on the oldest fsspec, s3fs, gcsfs
and adlfs allowed), ``lint``, ``typecheck``, ``docs``, ``reliability`` (the docs' Reliability
page) and ``bench``.

Each session installs what it needs into its own virtualenv, so a fresh machine needs only
Python, pip and nox, and Node.js with npm for Azurite (the Azure tests' server), which the
sessions that run backend tests install with npm (``python -m tests.azurite``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
ROOT = Path(__file__).parent


def install(
    session: nox.Session, *groups: str, extras: str = "all", pins: Sequence[str] = ()
) -> None:
    """Install octstore (editable, with ``extras``) and the given dependency groups, with
    ``pins`` resolved in the same step."""
    requirements = [
        req for group in groups for req in nox.project.dependency_groups(PYPROJECT, group)
    ]
    session.install("-e", f".[{extras}]", *requirements, *pins)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite but the ``slow`` variants, against real moto S3 and GCS emulator
    servers on loopback (a pair for each pytest-xdist worker)."""
    install(session, "test")
    install_azurite(session)
    session.run("pytest", *session.posargs)


def install_azurite(session: nox.Session) -> None:
    """Install Azurite with npm into ``.azurite/`` unless it is there (the test harness
    would too, from inside a test: here its time is not the first Azure test's)."""
    session.run("python", "-m", "tests.azurite")


@nox.session
def slow(session: nox.Session) -> None:
    """The long race and soak variants, and the command-line tests on GCS and Azure
    (``@pytest.mark.slow``), which ``tests`` leaves out."""
    install(session, "test")
    install_azurite(session)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def readme(session: nox.Session) -> None:
    """The README's two set-up commands pasted into one fresh shell in a clean clone of this
    repository's HEAD (so commit first): an install, the tour, and a whole ``tests`` run."""
    install(session, "test")
    session.run("pytest", "-m", "readme_setup", "-n", "0", "tests/test_readme.py", *session.posargs)


#: The libraries whose internals the S3 and GCS backends rely on (see the comments beside each
#: use in octstore/backends/), and adlfs, whose SDK client the Azure backend uses:
#: ``oldest`` installs each at the lower bound pyproject.toml gives. aiobotocore pins
#: botocore, and its ``boto3`` extra the boto3 that moto needs beside it.
WATCHED = {
    "fsspec": "fsspec",
    "s3fs": "s3fs",
    "gcsfs": "gcsfs",
    "aiobotocore": "aiobotocore[boto3]",
    "adlfs": "adlfs",
}

#: The tests that exercise those internals: every backend's, and the S3 lease, signed URLs and
#: hashes of content uploaded by other tools.
OLDEST_TESTS = [
    "tests/test_backend_conformance.py",
    "tests/test_backend_gcs.py",
    "tests/test_backend_s3.py",
    "tests/test_s3_lease.py",
    "tests/test_signed_urls.py",
    "tests/test_hashing.py",
]


def lower_bounds() -> list[str]:
    """``name==X`` for each watched library's ``>=X`` in pyproject.toml (dependencies, extras)."""
    project = PYPROJECT["project"]
    declared = chain(project["dependencies"], *project["optional-dependencies"].values())
    pins = {}
    for requirement in map(Requirement, declared):
        for spec in requirement.specifier:
            if requirement.name in WATCHED and spec.operator == ">=":
                pins[requirement.name] = f"{WATCHED[requirement.name]}=={spec.version}"
    missing = WATCHED.keys() - pins.keys()
    if missing:
        raise ValueError(f"pyproject.toml gives no lower bound for {', '.join(sorted(missing))}")
    return sorted(pins.values())


@nox.session
def oldest(session: nox.Session) -> None:
    """The backend tests against the oldest fsspec, s3fs, gcsfs, aiobotocore and adlfs that
    pyproject.toml allows, so that a lower bound that no longer holds (octstore relies on
    some of their private names) fails here rather than for a user."""
    install(session, "test", pins=lower_bounds())
    install_azurite(session)
    session.run("pip", "freeze")
    session.run("pytest", *(session.posargs or OLDEST_TESTS))


@nox.session
def reliability(session: nox.Session) -> None:
    """Run the reliability suite (``tests/reliability``), then render the docs' Reliability
    page from the figures it wrote to ``build/reliability/figures.json``."""
    install(session, "test")
    install_azurite(session)
    figures = ROOT / "build" / "reliability" / "figures.json"
    figures.unlink(missing_ok=True)  # a failed run writes none: never render an old one
    session.run("pytest", "tests/reliability", *session.posargs)
    session.run("python", "-m", "tests.reliability.report")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's lints and formatting check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    install(session, "typecheck")
    session.run("mypy", "--strict", "octstore")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors."""
    install(session, "docs")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


#: octue, the peer the benchmarks compare with on GCS, pins google-cloud-storage<3 while gcsfs
#: needs >=3.14: sharing one environment would downgrade gcsfs and fsspec, and so benchmark an
#: octstore that users do not get. It runs in a virtualenv of its own, driven as a subprocess.
OCTUE_REQUIREMENTS = ["octue>=0.69,<0.70"]


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark in bench/ against its peers, writing bench/results/*.json, a
    summary, and the docs' Performance page with its chart."""
    install(session, "bench")
    install_azurite(session)
    octue = Path(session.virtualenv.location).parent / "bench-octue"
    python = octue / "bin" / "python"
    if not python.exists():
        session.run("python", "-m", "venv", str(octue))
    session.run(str(python), "-m", "pip", "install", "--quiet", *OCTUE_REQUIREMENTS, external=True)
    session.run(
        "python", "bench/run.py", *session.posargs, env={"OCTSTORE_BENCH_OCTUE_PYTHON": str(python)}
    )
