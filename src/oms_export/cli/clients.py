"""``oms-export clients``: the OAuth clients that may ask for tokens.

A secret is printed once, by ``create`` and ``rotate-secret``; the store keeps only its keyed hash,
so a lost secret can be replaced but never shown again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from oms_export.auth.clients import create_client, list_clients, revoke_client, rotate_secret
from oms_export.auth.scopes import DEFAULT_SCOPES, SCOPES
from oms_export.cli.context import echo_json, echo_table, pass_settings, store
from oms_export.settings import Settings


@click.group("clients")
def command() -> None:
    """Create, list, revoke OAuth clients and rotate their secrets.

    \b
    Example:
        oms-export clients create --name reporting --company 1001
        oms-export clients list
    """


@command.command("create", short_help="Create a client; print its secret once.")
@click.option("--name", required=True, help="What the client is for, e.g. `reporting`.")
@click.option(
    "--company",
    "company_ref_ids",
    type=int,
    multiple=True,
    required=True,
    metavar="REF_ID",
    help="Ref id of a company the client acts for; repeat for several.",
)
@click.option(
    "--scope",
    "scopes",
    # Choice: an unknown scope is a usage error (exit 2) that lists the accepted ones.
    type=click.Choice(list(SCOPES), case_sensitive=True),
    multiple=True,
    metavar="SCOPE",
    help=(
        f"Scope to grant: {', '.join(SCOPES)}; repeat for several. "
        f"Default: {' '.join(DEFAULT_SCOPES)} alone."
    ),
)
@pass_settings
def create_command(
    settings: Settings, name: str, company_ref_ids: tuple[int, ...], scopes: tuple[str, ...]
) -> None:
    """Create a client and print its client_id and client_secret (shown only this once).

    Its scopes cannot be changed later: to change them, create a new client and revoke the old.

    \b
    Example:
        oms-export clients create --name reporting --company 1001 --company 1002
        oms-export clients create --name shop --company 1001 --scope orders.write
    """
    with store(settings) as engine:
        created = create_client(
            engine, settings, name=name, company_ref_ids=company_ref_ids, scopes=scopes or None
        )
    echo_json(created)


@command.command("list", short_help="List clients (never their secrets).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List clients with their companies and scopes (never their secrets).

    \b
    Example:
        oms-export clients list --json
    """
    with store(settings) as engine:
        clients = [_printable(client) for client in list_clients(engine)]
    if as_json:
        echo_json(clients)
    elif not clients:
        click.echo("No clients yet; create one with `oms-export clients create`.")
    else:
        _print_table(clients)


@command.command("revoke", short_help="Revoke a client and its tokens.")
@click.argument("client_id")
@pass_settings
def revoke_command(settings: Settings, client_id: str) -> None:
    """Revoke a client for good; its tokens stop working at once.

    \b
    Example:
        oms-export clients revoke q3Vh0oJx9pWm2D8e5sLk1AbC
    """
    with store(settings) as engine:
        revoke_client(engine, client_id)
    echo_json({"client_id": client_id, "revoked": True})


@command.command("rotate-secret", short_help="New secret; old secret and tokens stop working.")
@click.argument("client_id")
@pass_settings
def rotate_secret_command(settings: Settings, client_id: str) -> None:
    """Give a client a new secret; the old secret and its tokens stop working at once.

    \b
    Example:
        oms-export clients rotate-secret q3Vh0oJx9pWm2D8e5sLk1AbC
    """
    with store(settings) as engine:
        rotated = rotate_secret(engine, settings, client_id)
    echo_json(rotated)


def _printable(client: dict[str, Any]) -> dict[str, Any]:
    created_at: datetime = client["created_at"]
    return {**client, "created_at": created_at.strftime("%Y-%m-%d %H:%M:%S")}


_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("client_id", lambda c: str(c["client_id"])),
    ("name", lambda c: str(c["name"])),
    ("companies", lambda c: ", ".join(str(ref) for ref in c["companies"])),
    ("scopes", lambda c: " ".join(c["scopes"])),
    ("revoked", lambda c: "yes" if c["revoked"] else "no"),
    ("created_at (UTC)", lambda c: str(c["created_at"])),
]


def _print_table(clients: list[dict[str, Any]]) -> None:
    table = Table(box=None, header_style="bold")
    for title, _value in _COLUMNS:
        # Ids are copied from here, so they stay on one line; other cells fold, never hide.
        table.add_column(title, no_wrap=title == "client_id", overflow="fold")
    for client in clients:
        # Text, not str: a client named `[red]x` must print as written, not as Rich markup.
        table.add_row(*(Text(value(client)) for _title, value in _COLUMNS))
    echo_table(table)
