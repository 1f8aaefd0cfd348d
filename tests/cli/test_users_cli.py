"""``oms-export users``: add (prompt or --password-stdin), list, remove, as an admin types them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from oms_export.cli.main import cli
from oms_export.console.users import verify
from oms_export.db.schema import console_users
from oms_export.settings import Settings
from tests import factories

PASSWORD = "correct horse battery"
Invoke = Callable[..., Result]


@pytest.fixture
def run(settings: Settings, engine: Engine) -> Invoke:
    factories.company(engine, 1001)
    factories.company(engine, 1002)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            cli, ["--database-url", settings.database_url, "users", *args], input=input
        )

    return invoke


def test_add_a_viewer_from_stdin_then_list_and_remove(run: Invoke, engine: Engine) -> None:
    added = run(
        "add",
        "Bob@Example.com",
        "--role",
        "viewer",
        "--company",
        "1001",
        "--company",
        "1002",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {
        "email": "bob@example.com",
        "role": "viewer",
        "companies": [1001, 1002],
    }
    user = verify(engine, "bob@example.com", PASSWORD)
    assert user is not None
    assert user.role == "viewer"
    listed = run("list", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["email"] == "bob@example.com"
    assert row["companies"] == [1001, 1002]
    assert "password" not in listed.stdout
    assert "bob@example.com" in run("list").stdout
    removed = run("remove", "bob@example.com")
    assert removed.exit_code == 0, removed.output
    assert json.loads(run("list", "--json").stdout) == []


def test_add_an_admin_at_the_prompt_with_confirmation(run: Invoke, engine: Engine) -> None:
    added = run("add", "ann@example.com", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    with engine.connect() as conn:
        stored = conn.execute(select(console_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert verify(engine, "ann@example.com", PASSWORD) is not None
    assert verify(engine, "ann@example.com", "not the password") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "v@example.com", "--role", "viewer"), "A viewer needs at least one company."),
        (
            ("add", "v@example.com", "--role", "viewer", "--company", "9"),
            "No company with ref id 9.",
        ),
        (("add", "a@example.com", "--role", "admin", "--company", "1001"), "give no --company"),
        (("add", "not-an-email", "--role", "admin"), "is not an email address"),
    ],
)
def test_add_refuses_with_one_clear_line(run: Invoke, args: tuple[str, ...], message: str) -> None:
    result = run(*args, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_add_refuses_a_short_password_and_a_second_user_of_one_email(run: Invoke) -> None:
    short = run("add", "a@example.com", "--role", "admin", "--password-stdin", input="short\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.stderr
    assert (
        run(
            "add", "a@example.com", "--role", "admin", "--password-stdin", input=PASSWORD + "\n"
        ).exit_code
        == 0
    )
    again = run(
        "add", "A@example.com", "--role", "admin", "--password-stdin", input=PASSWORD + "\n"
    )
    assert again.exit_code == 1
    assert "exists already" in again.stderr


def test_an_unknown_role_is_a_usage_error(run: Invoke) -> None:
    result = run("add", "a@example.com", "--role", "owner", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 2


def test_remove_an_unknown_user_fails_cleanly(run: Invoke) -> None:
    result = run("remove", "ghost@example.com")
    assert result.exit_code == 1
    assert "No console user 'ghost@example.com'" in result.stderr
