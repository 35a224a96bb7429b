"""The docs' CLI reference page, rendered from the ``octstore`` command's own click objects.

An mkdocs hook (``hooks:`` in mkdocs.yml): at every build it adds the page
``cli-reference.md``, with every group and command under ``octstore.cli.cli`` (commands added
later included, with no edit here), each with its usage line, help text and options as
``--help`` shows them, wrapped to fit the page. Nothing is committed, so nothing can drift.

To read the page as it will be built: ``python docs/hooks/cli_reference.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

#: The page's name in the site.
PAGE = "cli-reference.md"
#: The widest line in a code block that fits the page without scrolling.
WIDTH = 80  # the docs' code width (tests/test_docs.py PAGE_WIDTH)

_INTRODUCTION = """\
# CLI reference

Every group and command of `octstore`, with its usage, help and options, as `--help` shows
them. This page is generated from the commands themselves at each build of the docs, so it
always matches the code. For a tour of the commands and what `--json` prints, see
[Command line](cli.md).
"""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the reference page to the site's files (mkdocs's ``on_files`` event)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files


def render(root: click.Group | None = None) -> str:
    """The reference page for ``root`` (default: ``octstore``'s root group), in Markdown."""
    from octstore.cli import cli
    from octstore.cli.options import global_options

    root = root or cli
    shared = {option.name for option in global_options()}
    context = click.Context(root, info_name="octstore", **root.context_settings)
    sections = [_INTRODUCTION, _global_section(context, shared)]
    sections += [_section(each, shared) for each in _walk(context)]
    return "\n".join(sections)


def _walk(context: click.Context) -> Iterator[click.Context]:
    """``context`` and the context of each command under it, depth first, in help order."""
    yield context
    command = context.command
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            child = command.get_command(context, name)
            if child is not None and not child.hidden:
                yield from _walk(click.Context(child, info_name=name, parent=context))


def _global_section(context: click.Context, shared: set[str]) -> str:
    """The options every command takes, anywhere on the line: listed once, here."""
    records = [
        record
        for param in context.command.get_params(context)
        if param.name in shared or param is context.command.get_help_option(context)
        if (record := param.get_help_record(context)) is not None
    ]
    formatter = _formatter()
    formatter.write_dl(records)
    return (
        "## Global options\n\n"
        "Every group and command takes these, anywhere on the line, before or after the "
        "command\n(`--json` only where the command prints a result).\n\n"
        f"```text\n{formatter.getvalue().rstrip()}\n```\n"
    )


def _section(context: click.Context, shared: set[str]) -> str:
    """One command's heading and ``--help``, without the global options."""
    command = context.command
    help_option = command.get_help_option(context)
    formatter = _formatter()
    command.format_usage(context, formatter)
    command.format_help_text(context, formatter)
    records = [
        record
        for param in command.get_params(context)
        if isinstance(param, click.Option) and param is not help_option
        if not (param.name in shared and not param.expose_value)  # listed once, at the top
        if (record := param.get_help_record(context)) is not None
    ]
    if records:
        with formatter.section("Options"):
            formatter.write_dl(records)
    if isinstance(command, click.Group):
        command.format_commands(context, formatter)
    command.format_epilog(context, formatter)
    return f"## {context.command_path}\n\n```text\n{formatter.getvalue().rstrip()}\n```\n"


def _formatter() -> click.HelpFormatter:
    return click.HelpFormatter(width=WIDTH, max_width=WIDTH)


if __name__ == "__main__":
    click.echo(render(), nl=False)
