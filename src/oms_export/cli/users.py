"""``oms-export users``: who may sign in to the web console (``/console``).

Passwords are asked for twice at a prompt that does not echo, or read from standard input with
``--password-stdin`` (for scripts); only their argon2 hash is stored.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table
from rich.text import Text

from oms_export.cli.context import echo_json, echo_table, pass_settings, store
from oms_export.console.users import add_user, list_users, remove_user
from oms_export.db.schema import CONSOLE_ROLES
from oms_export.settings import Settings


@click.group("users")
def command() -> None:
    """Add, list and remove the console's users.

    \b
    Example:
        oms-export users add ann@example.com --role admin
        oms-export users add bob@example.com --role viewer --company 1001
    """


@command.command("add", short_help="Add a console user (admin or viewer).")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(CONSOLE_ROLES),
    required=True,
    help="admin: everything and the admin pages; viewer: its companies' orders only.",
)
@click.option(
    "--company",
    "company_ref_ids",
    type=int,
    multiple=True,
    metavar="REF_ID",
    help="Ref id of a company a viewer sees; repeat for several (a viewer needs one).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (its first line) instead of a prompt.",
)
@pass_settings
def add_command(
    settings: Settings,
    email: str,
    role: str,
    company_ref_ids: tuple[int, ...],
    password_stdin: bool,
) -> None:
    """Add a user who signs in to the console with EMAIL and a password.

    \b
    Example:
        oms-export users add ann@example.com --role admin
        printf '%s\\n' "$PASSWORD" | oms-export users add bob@example.com \\
            --role viewer --company 1001 --password-stdin
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with store(settings) as engine:
        added = add_user(engine, email, password, role=role, company_ref_ids=company_ref_ids)
    echo_json(added)


@command.command("list", short_help="List console users (never their passwords).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List console users with their role and companies.

    \b
    Example:
        oms-export users list --json
    """
    with store(settings) as engine:
        users = list_users(engine)
    if as_json:
        echo_json(users)
    elif not users:
        click.echo("No console users yet; add one with `oms-export users add`.")
    else:
        table = Table(box=None, header_style="bold")
        for title in ("email", "role", "companies", "created_at (UTC)"):
            table.add_column(title, overflow="fold")
        for user in users:
            table.add_row(
                Text(user["email"]),
                Text(user["role"]),
                Text(", ".join(map(str, user["companies"]))),
                Text(user["created_at"]),
            )
        echo_table(table)


@command.command("remove", short_help="Remove a console user; its sessions end.")
@click.argument("email")
@pass_settings
def remove_command(settings: Settings, email: str) -> None:
    """Remove a console user; pages it has open stop working at its next click.

    \b
    Example:
        oms-export users remove bob@example.com
    """
    with store(settings) as engine:
        remove_user(engine, email)
    echo_json({"email": email.strip().lower(), "removed": True})
