"""The ``octstore`` command: one module per group of commands, the shared options in one place."""

from octstore.cli.commands import cli, main

__all__ = ["cli", "main"]
