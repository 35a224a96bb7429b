"""The ``octstore`` command line: every capability at a prompt.

Commands take local paths and URLs alike (``s3://``, ``gs://``, ``memory://`` ...), reach the
cloud with each backend's own credentials (``AWS_*`` variables, Google application default
credentials) and ``-o KEY=VALUE`` storage options, print progress bars on stderr when it is a
terminal, and print JSON with ``--json``. Exit codes: 0 done, 1 failed, 2 wrong usage (an
unknown option, an invalid label or filter); errors are one line, with a traceback only
under ``--debug``. ``octstore exec`` exits with the program's own code.

One module per group of commands, each adding its commands to the root group in ``root``;
the options and printing they share are in ``options``.
"""

# Imported for their commands, which they add to the root group.
from octstore.cli import (  # noqa: F401
    caching,
    datasets,
    exec,
    files,
    labels,
    moving,
    stores,
    transfers,
    verbs,
)
from octstore.cli.root import cli, main

__all__ = ["cli", "main"]
