"""The ``octstore`` command line: every capability at a prompt.

Commands take local paths and URLs alike (``s3://``, ``gs://``, ``memory://`` ...), reach the
cloud with each backend's own credentials (``AWS_*`` variables, Google application default
credentials) and ``-o KEY=VALUE`` storage options, print progress bars on stderr when it is a
terminal, and print JSON with ``--json``. Errors are one line that says what happened and
what to do, in the command line's syntax, with a traceback only under ``--debug``.

Exit codes (:class:`~octstore.cli.exits.ExitCode`): 0 done; 1 failed (the network, the
service, ...); 2 wrong usage (an unknown option; an invalid URL, bucket name, label, tag or
filter); 3 not found (a file, directory, bucket or store); 4 conflict (other content where
a file would go, which ``--overwrite`` replaces, or a file changed meanwhile); 5 access
denied (permissions, credentials). ``octstore exec`` exits with the program's own code.

One module per group of commands, each adding its commands to the root group in ``root``;
the options and printing they share are in ``options``, exit codes and error wording in
``exits``.
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
