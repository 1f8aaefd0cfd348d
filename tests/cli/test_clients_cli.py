"""``oms-export clients``: create, list, revoke, rotate-secret, as an admin types them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, insert

from oms_export.auth.grant import TokenRequest
from oms_export.auth.scopes import (
    EXPORT_SCOPE,
    KNOWN_SCOPES,
    ORDERS_FULFIL_SCOPE,
    ORDERS_WRITE_SCOPE,
)
from oms_export.auth.tokens import issue_token, resolve_token
from oms_export.cli.main import cli
from oms_export.db.schema import companies
from oms_export.errors import InvalidClient
from oms_export.settings import Settings


@pytest.fixture
def run(settings: Settings, engine: Engine) -> Any:
    with engine.begin() as conn:
        conn.execute(
            insert(companies),
            [
                {"ref_id": 1001, "name": "Acme", "subscription": "order_manager"},
                {"ref_id": 1002, "name": "Beta", "subscription": "enterprise"},
            ],
        )
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(
            cli,
            ["--database-url", settings.database_url, "clients", *args],
            env={"OMS_EXPORT_SECRET_KEY": settings.secret_key},
        )

    return invoke


def can_get_token(engine: Engine, settings: Settings, client_id: str, secret: str) -> bool:
    try:
        issued = issue_token(engine, settings, TokenRequest(client_id, secret, None, False))
    except InvalidClient:
        return False
    return resolve_token(engine, issued["access_token"]).client_id == client_id


def assert_clean_failure(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_create_prints_one_json_object_whose_secret_works(
    run: Any, engine: Engine, settings: Settings
) -> None:
    result = run("create", "--name", "reporting", "--company", "1001", "--company", "1002")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["name"] == "reporting"
    assert created["companies"] == [1001, 1002]
    assert created["scopes"] == [EXPORT_SCOPE]
    assert can_get_token(engine, settings, created["client_id"], created["client_secret"])


def test_create_with_an_explicit_scope(run: Any) -> None:
    result = run("create", "--name", "r", "--company", "1001", "--scope", EXPORT_SCOPE)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scopes"] == [EXPORT_SCOPE]


def test_create_grants_every_scope_given_and_a_token_can_carry_them(
    run: Any, engine: Engine, settings: Settings
) -> None:
    result = run(
        "create", "--name", "shop", "--company", "1001",
        "--scope", ORDERS_WRITE_SCOPE, "--scope", ORDERS_FULFIL_SCOPE,
        "--scope", ORDERS_WRITE_SCOPE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["scopes"] == [ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE]
    issued = issue_token(
        engine, settings, TokenRequest(created["client_id"], created["client_secret"], None, False)
    )
    assert issued["scope"] == f"{ORDERS_FULFIL_SCOPE} {ORDERS_WRITE_SCOPE}"
    assert resolve_token(engine, issued["access_token"]).scopes == {
        ORDERS_FULFIL_SCOPE,
        ORDERS_WRITE_SCOPE,
    }


def test_create_with_an_unknown_company_fails_cleanly(run: Any) -> None:
    assert_clean_failure(run("create", "--name", "r", "--company", "4242"), "4242")


@pytest.mark.parametrize("scope", ["admin", "Orders.Write", "orders.write orders.fulfil", ""])
def test_create_with_an_unknown_scope_is_a_usage_error_naming_the_accepted_ones(
    run: Any, scope: str
) -> None:
    result = run("create", "--name", "r", "--company", "1001", "--scope", scope)
    assert result.exit_code == 2, result.output
    assert "--scope" in result.stderr
    assert all(known in result.stderr for known in KNOWN_SCOPES)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert json.loads(run("list", "--json").stdout) == []


def test_create_requires_a_company(run: Any) -> None:
    result = run("create", "--name", "r")
    assert result.exit_code == 2
    assert "--company" in result.stderr


def test_list_json_shows_clients_but_never_a_secret(run: Any) -> None:
    created = json.loads(run("create", "--name", "reporting", "--company", "1002").stdout)
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(c["client_id"], c["name"], c["companies"], c["revoked"]) for c in listed] == [
        (created["client_id"], "reporting", [1002], False)
    ]
    assert len(listed[0]["created_at"]) == len("YYYY-MM-DD HH:MM:SS")
    assert created["client_secret"] not in result.output
    assert "secret" not in result.output


def test_list_shows_each_clients_scopes_in_json_and_in_the_table(run: Any) -> None:
    reporting = json.loads(run("create", "--name", "reporting", "--company", "1001").stdout)
    shop = json.loads(
        run(
            "create", "--name", "shop", "--company", "1002",
            "--scope", ORDERS_WRITE_SCOPE, "--scope", EXPORT_SCOPE,
        ).stdout
    )  # fmt: skip
    listed = json.loads(run("list", "--json").stdout)
    assert [(c["client_id"], c["scopes"]) for c in listed] == [
        (reporting["client_id"], [EXPORT_SCOPE]),
        (shop["client_id"], [EXPORT_SCOPE, ORDERS_WRITE_SCOPE]),
    ]
    table = run("list")
    assert table.exit_code == 0, table.output
    assert "scopes" in table.stdout.splitlines()[0]
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert f" {EXPORT_SCOPE} " in rows[reporting["client_id"]]
    assert ORDERS_WRITE_SCOPE not in rows[reporting["client_id"]]
    assert f" {EXPORT_SCOPE} {ORDERS_WRITE_SCOPE} " in rows[shop["client_id"]]


def test_list_table_shows_the_client_id_whole(run: Any) -> None:
    created = json.loads(run("create", "--name", "[red]reporting", "--company", "1001").stdout)
    result = run("list")
    assert result.exit_code == 0, result.output
    assert created["client_id"] in result.stdout
    assert "[red]reporting" in result.stdout
    assert created["client_secret"] not in result.output


def test_list_with_no_clients_says_how_to_make_one(run: Any) -> None:
    result = run("list")
    assert result.exit_code == 0
    assert "oms-export clients create" in result.stdout
    assert json.loads(run("list", "--json").stdout) == []


def test_revoke_stops_the_client_at_once(run: Any, engine: Engine, settings: Settings) -> None:
    created = json.loads(run("create", "--name", "r", "--company", "1001").stdout)
    result = run("revoke", created["client_id"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"client_id": created["client_id"], "revoked": True}
    assert json.loads(run("list", "--json").stdout)[0]["revoked"] is True
    assert not can_get_token(engine, settings, created["client_id"], created["client_secret"])


def test_rotate_secret_prints_a_new_secret_and_the_old_one_stops_working(
    run: Any, engine: Engine, settings: Settings
) -> None:
    created = json.loads(run("create", "--name", "r", "--company", "1001").stdout)
    result = run("rotate-secret", created["client_id"])
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    assert set(rotated) == {"client_id", "client_secret"}
    assert rotated["client_id"] == created["client_id"]
    assert not can_get_token(engine, settings, created["client_id"], created["client_secret"])
    assert can_get_token(engine, settings, rotated["client_id"], rotated["client_secret"])


@pytest.mark.parametrize("verb", ["revoke", "rotate-secret"])
def test_unknown_client_id_fails_cleanly(run: Any, verb: str) -> None:
    assert_clean_failure(run(verb, "no-such-client"), "no-such-client")


def test_rotating_a_revoked_client_fails_cleanly(run: Any) -> None:
    created = json.loads(run("create", "--name", "r", "--company", "1001").stdout)
    run("revoke", created["client_id"])
    assert_clean_failure(run("rotate-secret", created["client_id"]), "revoked")


@pytest.mark.parametrize("verb", [(), ("create",), ("list",), ("revoke",), ("rotate-secret",)])
def test_every_command_shows_an_example(verb: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["clients", *verb, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "oms-export clients" in result.output
