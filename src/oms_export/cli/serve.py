"""``oms-export serve``: the HTTP service on uvicorn."""

from __future__ import annotations

import os

import click
import uvicorn

from oms_export.admin.demo import client_purposes, demo_credentials
from oms_export.api.http_protocol import BoundedHttpToolsProtocol
from oms_export.api.logs import LogFormat, log_config
from oms_export.cli.context import echo_json, pass_settings, store
from oms_export.settings import ENV_PREFIX, Settings


def ready_curl(base_url: str, client_id: str, client_secret: str) -> str:
    """The article's walk-through, pointed at this service (``-g`` keeps ``[]`` literal)."""
    return (
        f'TOKEN=`curl -s "{base_url}/token" -d "client_id={client_id}'
        f"&client_secret={client_secret}&grant_type=client_credentials"
        f'&scope=export-api.order-item-details" | jq .access_token -r`\n'
        f'curl -sg "{base_url}/export-api/order-item-details?filter[status:in]=8,516'
        f'&filter[completion_datetime:gt]=2020-03-06%2012:00:00&options[includeProductOwner]=1" '
        f'-H "Authorization: Bearer $TOKEN" | jq'
    )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo", is_flag=True, help="Load the demo data set first (when the store has no orders)."
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Logs on stderr: one JSON object per line, or plain text for reading by eye.",
)
@pass_settings
def command(
    settings: Settings, host: str, port: int, workers: int, demo: bool, log_format: LogFormat
) -> None:
    """Run the HTTP service.

    \b
    Example:
        oms-export serve --demo --log-format text
        oms-export --database-url postgresql://postgres@127.0.0.1/oms serve --workers 2
    """
    with store(settings) as engine:
        if demo:
            credentials = demo_credentials(engine, settings)
            echo_json(credentials)
            click.echo("\nWhat each client is for:")
            click.echo("\n".join(client_purposes()))
            click.echo("The orders API with the retailer and the fulfiller: docs/orders.md")
            local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            click.echo("\nTry it (needs curl and jq):\n")
            click.echo(
                ready_curl(
                    f"http://{local}:{port}", credentials["client_id"], credentials["client_secret"]
                )
            )
            click.echo()
    # Workers are separate processes: they read their settings from the environment.
    for name, value in vars(settings).items():
        os.environ[ENV_PREFIX + name.upper()] = str(value)
    uvicorn.run(
        "oms_export.api.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(log_format),
        http=BoundedHttpToolsProtocol,
        access_log=False,  # our middleware logs each request, with its id and client
        # X-Forwarded-For/-Proto are believed only when the operator says a proxy sets them;
        # else any client could pick the address its failed logins are counted against.
        proxy_headers=bool(settings.trust_proxy_headers),
        forwarded_allow_ips="*" if settings.trust_proxy_headers else None,
    )
