"""The ``oms-export`` command.

Sub-commands live one noun per module and are imported only when called, so ``oms-export pull``
and ``--help`` stay quick and work without the server extra installed.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from oms_export import __version__
from oms_export.settings import Settings

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "db": ("oms_export.cli.db", "Create or migrate the database."),
    "companies": ("oms_export.cli.companies", "Add companies and set their subscription."),
    "clients": ("oms_export.cli.clients", "Create, list, revoke OAuth clients."),
    "import": ("oms_export.cli.imports", "Import products or orders from JSON/NDJSON."),
    "demo": ("oms_export.cli.demo", "Load the deterministic demo data set."),
    "serve": ("oms_export.cli.serve", "Run the HTTP service."),
    "pull": ("oms_export.cli.pull", "Pull an export into a file or table, or keep one in sync."),
    "worker": ("oms_export.cli.worker", "Deliver status callbacks and order pushes."),
    "events": ("oms_export.cli.events", "List events and send failed ones again."),
    "users": ("oms_export.cli.users", "Add, list, remove the web console's users."),
}


_SERVER_MODULES = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "fastapi",
        "starlette",
        "uvicorn",
        "redis",
        "prometheus_client",
        "jinja2",
        "itsdangerous",
        "argon2",
    }
)
"""Top-level modules of the server extra: missing one means the extra is not installed."""


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module_name, _help = SUBCOMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in _SERVER_MODULES:
                raise click.ClickException(
                    f"`oms-export {cmd_name}` needs the server extra: "
                    "pip install 'oms-export[server]'"
                ) from exc
            raise
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oms-export")
@click.option(
    "--database-url",
    envvar="OMS_EXPORT_DATABASE_URL",
    default=None,
    help="Database URL [env OMS_EXPORT_DATABASE_URL; default sqlite:///oms-export.db].",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """oms-export: the Order Item Details Export service and its admin tools.

    \b
    Example:
        oms-export serve --demo
    """
    try:
        ctx.obj = Settings.from_env(database_url=database_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="oms-export")
