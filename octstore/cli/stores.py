"""The ``store`` group and ``serve``: the attachment store at a prompt and over HTTP."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import IO, Any

import click

from octstore.cli.arguments import parse_duration, parse_size
from octstore.cli.options import Settings, echo, echo_json, json_option
from octstore.cli.root import cli
from octstore.errors import NotFoundError
from octstore.location import Location
from octstore.store import Store
from octstore.store.handles import split_handle


def _store(settings: Settings, name: str) -> Store:
    """The store configured as ``name``, or at the URL ``name``, with ``-o`` options on top."""
    from octstore import config

    resolved = config.load().store(name)
    options = {**resolved.to_storage_options(), **(settings.options_for(resolved.url) or {})}
    return Store(resolved.url, options or None)


def _existing_store(settings: Settings, name: str) -> Store:
    """:func:`_store`, which must exist to be read: a local directory that does not is a
    typo, not an empty store (adding a file makes one)."""
    store = _store(settings, name)
    if Location(store.url).is_local and not os.path.isdir(store.url):
        raise NotFoundError(
            f"there is no store at {store.url}: check the path, or make one by adding a file "
            f"to it: octstore store add {name} FILE"
        )
    return store


@cli.group("store")
def store_group() -> None:
    """Attachments kept once per content, addressed by SHA-256 handles.

    STORE is a store's name in the configuration (OCTSTORE_CONFIG, OCTSTORE_* variables) or
    a directory or URL.
    """


@store_group.command("add")
@click.argument("store")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", help="The file name to keep (default: each file's own; '-' needs it).")
@json_option
@click.pass_obj
def store_add(
    settings: Settings, store: str, paths: tuple[str, ...], name: str | None, as_json: bool
) -> None:
    """Add local files (or '-' for standard input) to STORE; print a handle for each.

    Content already in the store is not transferred again.
    """
    target = _store(settings, store)
    if name is not None and len(paths) > 1:
        raise click.UsageError("--name names one file: give one PATH with it")
    if name is None and "-" in paths:
        raise click.UsageError("give --name for content from standard input")
    added = []
    with settings.progress("adding", in_bytes=True) as callback:
        sizes = [os.path.getsize(path) if os.path.isfile(path) else None for path in paths]
        known = [size for size in sizes if size is not None]
        callback.set_size(sum(known) if len(known) == len(sizes) else None)  # '-': unknown
        for path, size in zip(paths, sizes, strict=True):
            with callback.branched(path, target.url) as child:
                if path == "-":
                    handle = target.add(str(name), sys.stdin.buffer, callback=child)
                else:
                    handle = target.add(name or os.path.basename(path), path, callback=child)
            callback.relative_update(size or child.size or 0)
            added.append({"path": path, "handle": handle})
    if as_json:
        echo_json(added)
        return
    for item in added:
        echo(item["handle"])


@store_group.command("fetch")
@click.argument("store")
@click.argument("handle")
@click.argument("destination", default=".")
@click.option("--overwrite", is_flag=True, help="Replace a local file with other content.")
@json_option
@click.pass_obj
def store_fetch(
    settings: Settings, store: str, handle: str, destination: str, overwrite: bool, as_json: bool
) -> None:
    """Download HANDLE's content into DESTINATION (a directory, or a file path); print where.

    Identical content already there is left as it is.
    """
    split_handle(handle)  # a malformed handle is wrong usage, wherever the store
    target = _existing_store(settings, store)
    if destination.endswith(("/", os.sep)):
        os.makedirs(destination, exist_ok=True)
    with settings.progress(f"fetching {handle.rpartition('/')[2]}", in_bytes=True) as callback:
        path = target.fetch(handle, destination, overwrite=overwrite, callback=callback)
    if as_json:
        echo_json({"handle": handle, "path": path})
    else:
        echo(path)


@store_group.command("list")
@click.argument("store")
@json_option
@click.pass_obj
def store_list(settings: Settings, store: str, as_json: bool) -> None:
    """List every stored content: its SHA-256, size, when it was stored, and its names."""
    stored = _existing_store(settings, store).list()
    if as_json:
        echo_json([item.to_dict() for item in stored])
        return
    for item in stored:
        created = item.created.isoformat(timespec="seconds") if item.created else "-"
        echo(f"{item.sha256}  {item.size:>12}  {created}  {', '.join(item.names)}")


@store_group.command("gc")
@click.argument("store")
@click.option(
    "--referenced",
    type=click.File("r"),
    required=True,
    help="A file of the handles still in use, one a line ('-': standard input).",
)
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    callback=parse_duration,
    help="Keep content added more recently than this (90s, 30m, 1h, 7d).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@json_option
@click.pass_obj
def store_gc(
    settings: Settings,
    store: str,
    referenced: IO[str],
    grace: timedelta,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete the content no referenced handle names and nobody added within --grace.

    Safe while others add to the store: content added during the collection is kept.
    """
    handles = {line.strip() for line in referenced if line.strip()}
    report = _existing_store(settings, store).gc(handles, grace, dry_run=dry_run)
    if as_json:
        echo_json(report.to_dict())
    else:
        echo(str(report))


@store_group.command("link")
@click.argument("store")
@click.argument("handle")
@click.option(
    "--expires",
    "expires_in",
    default="1h",
    show_default=True,
    callback=parse_duration,
    help="How long the link works: 90s, 30m, 1h, 7d.",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where the store is served ('octstore serve', or the app behind your proxy).",
)
@json_option
def store_link(
    store: str, handle: str, expires_in: timedelta, base_url: str, as_json: bool
) -> None:
    """Print a link to HANDLE that works without a token until it expires.

    The link is signed with the link_secret of STORE's configuration, which the server
    checks: give both the same configuration. Anyone with the link can read that one
    attachment until then.
    """
    from octstore.store.access import Access
    from octstore.store.handles import split_handle

    split_handle(handle)
    access = Access.from_config(store)
    now = time.time()
    link = access.link(handle, expires_in, base_url=base_url, now=now)
    expires = datetime.fromtimestamp(int(now + expires_in.total_seconds()), timezone.utc)
    # Printed as it is: the signature is what the link is for (logs show it redacted).
    if as_json:
        document = {"url": link, "handle": handle, "expires": expires.isoformat(timespec="seconds")}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(link)


@cli.command()
@click.argument("store")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, help="The port (0: any free one).")
@click.option(
    "--max-upload-bytes",
    callback=parse_size,
    help="The largest upload accepted (default: octstore.http's limit).",
)
@click.option("--read-only", is_flag=True, help="Refuse uploads.")
@click.option(
    "--generate-token",
    is_flag=True,
    help="Make an upload token for this run and print it once (on stderr).",
)
@click.pass_obj
def serve(
    settings: Settings,
    store: str,
    host: str,
    port: int,
    max_upload_bytes: int | None,
    read_only: bool,
    generate_token: bool,
) -> None:
    """Serve STORE over HTTP: GET /<handle> (ranges, conditional requests) and POST /.

    Who may upload and read comes from STORE's configuration: upload_tokens, read_tokens,
    link_secret and protect_reads (see 'octstore store link'). Clients send a token as
    'Authorization: Bearer TOKEN'. On an address other than loopback, uploads need a token
    (or --read-only), and reads with no token are warned about.

    This is werkzeug's development server; in production run octstore.http.make_app under
    a WSGI server such as gunicorn.
    """
    from octstore import http
    from octstore.store.access import Access
    from octstore.store.access import generate_token as new_token

    access = Access.from_config(store)
    if generate_token:
        token = new_token()
        access = Access(
            upload_tokens=[*access.upload_tokens, token],
            read_tokens=access.read_tokens,
            link_secret=access.link_secret,
            protect_reads=access.protect_reads,
        )
        # Shown once, as it is (not redacted), and kept nowhere.
        click.echo(f"octstore: upload token for this run (shown once): {token}", err=True)
    options: dict[str, Any] = {"read_only": read_only, "access": access}
    if max_upload_bytes is not None:
        options["max_upload_bytes"] = max_upload_bytes
    http.serve(_store(settings, store), host, port, **options)
