"""``oms-export companies``, ``import`` and ``demo``, as an admin types them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from oms_export.cli.main import cli
from oms_export.db.engine import make_engine
from oms_export.db.schema import orders
from oms_export.settings import Settings


@pytest.fixture
def run(settings: Settings) -> Any:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
        return runner.invoke(
            cli,
            ["--database-url", settings.database_url, *args],
            input=stdin,
            env={"OMS_EXPORT_SECRET_KEY": settings.secret_key},
        )

    return invoke


def assert_clean_failure(result: Result, message: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


ACME = {
    "ref_id": 1001,
    "name": "Acme Prints",
    "subscription": "order_manager",
    "external_ref": "ACME",
    "customer_ref_id": 77,
    "id": 1,
}


def add_acme(run: Any) -> Result:
    result: Result = run(
        "companies", "add", "--ref-id", "1001", "--name", "Acme Prints",
        "--subscription", "order_manager", "--external-ref", "ACME", "--customer-ref-id", "77",
    )  # fmt: skip
    return result


def test_companies_add_prints_the_company(run: Any) -> None:
    result = add_acme(run)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ACME


def test_companies_add_twice_is_a_clear_error(run: Any) -> None:
    add_acme(run)
    assert_clean_failure(add_acme(run), "Error: A company with ref id 1001 already exists;")


def test_an_unknown_subscription_level_names_the_accepted_ones(run: Any) -> None:
    result = run("companies", "add", "--ref-id", "5", "--name", "X", "--subscription", "gold")
    assert_clean_failure(
        result,
        "'gold' is not one of 'free', 'oms_lite', 'order_manager', 'enterprise'",
        code=2,
    )


def test_set_subscription_changes_the_level(run: Any) -> None:
    add_acme(run)
    result = run("companies", "set-subscription", "1001", "enterprise")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {**ACME, "subscription": "enterprise"}
    assert json.loads(run("companies", "list", "--json").stdout) == [
        {**ACME, "subscription": "enterprise"}
    ]


def test_set_subscription_of_an_unknown_company_is_a_clear_error(run: Any) -> None:
    assert_clean_failure(
        run("companies", "set-subscription", "4242", "free"),
        "Error: No company with ref id 4242; `oms-export companies list` shows them.",
    )


def test_companies_list_prints_a_table_saying_who_may_export(run: Any) -> None:
    add_acme(run)
    run("companies", "add", "--ref-id", "1002", "--name", "Bolt", "--subscription", "free")
    lines = run("companies", "list").stdout.splitlines()
    assert lines[0].split() == [
        "ref_id", "name", "subscription", "exports", "external_ref", "customer_ref_id",
    ]  # fmt: skip
    assert lines[1].split() == ["1001", "Acme", "Prints", "order_manager", "yes", "ACME", "77"]
    assert lines[2].split() == ["1002", "Bolt", "free", "no"]


def test_companies_list_on_an_empty_store_says_how_to_add_one(run: Any) -> None:
    assert run("companies", "list").stdout == (
        "No companies yet; add one with `oms-export companies add`.\n"
    )


ORDER = {"external_ref": "WEB-1", "company_ref_id": 1001, "items": [{"sku": "A", "quantity": 1}]}


def test_import_orders_from_a_file_prints_one_summary_and_is_idempotent(
    run: Any, tmp_path: Path
) -> None:
    add_acme(run)
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([ORDER, {**ORDER, "external_ref": "WEB-2"}]))
    first = run("import", "orders", str(path))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {
        "created": 2, "updated": 0, "unchanged": 0, "rejected": 0, "errors": [],
    }  # fmt: skip
    second = run("import", "orders", str(path))
    assert json.loads(second.stdout)["unchanged"] == 2


def test_import_from_stdin_exits_1_when_a_record_is_rejected(run: Any) -> None:
    add_acme(run)
    stdin = json.dumps(ORDER) + "\n" + json.dumps({**ORDER, "status": 3}) + "\n"
    result = run("import", "orders", "-", stdin=stdin)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["created"], report["rejected"]) == (1, 1)
    assert report["errors"][0]["line"] == 2
    assert report["errors"][0]["reason"].startswith("status: 3 is not an order status code")


def test_import_products_reads_ndjson(run: Any) -> None:
    add_acme(run)
    stdin = '{"product_id": 501, "owner_company_ref_id": 1001}\n{"product_id": 502}\n'
    result = run("import", "products", "-", stdin=stdin)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 2


def assert_summary(result: Result) -> dict[str, Any]:
    """The import's one JSON summary, printed however hostile the file, with no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == (1 if report["rejected"] else 0), result.output
    return report


def test_a_file_that_is_not_json_is_one_rejection_in_the_summary(run: Any) -> None:
    report = assert_summary(run("import", "orders", "-", stdin="ref,company\nWEB-1,1001\n"))
    assert report == {
        "created": 0, "updated": 0, "unchanged": 0, "rejected": 1,
        "errors": [{"line": 1, "reason": "the file is neither a JSON array nor NDJSON (one JSON object per line): line 1 starts with 'ref,company'; nothing was imported"}],
    }  # fmt: skip


HOSTILE = {
    "datetime-before-year-1": ('"sale_datetime": "0001-01-01T00:00:00+01:00"', "sale_datetime: "),
    "datetime-after-9999": ('"sale_datetime": "9999-12-31T23:59:59-01:00"', "sale_datetime: "),
    "quantity-5000-digit-string": ('"items": [{"sku": "A", "quantity": "' + "9" * 5000 + '"}]', "items[0].quantity: "),
    "quantity-5000-digit-number": ('"items": [{"sku": "A", "quantity": ' + "9" * 5000 + "}]", "items[0].quantity: "),
    "lone-surrogate": ('"customer_name": "\\ud800"', "customer_name: "),
    "nul": ('"customer_name": "a\\u0000"', "customer_name: "),
    "nested-100000-deep": ('"customer_name": ' + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "external-ref-past-the-filter": ('"customer_name": "x"', "external_ref: "),
}  # fmt: skip


@pytest.mark.parametrize(("fields", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_record_is_a_rejection_in_the_summary_and_never_a_traceback(
    run: Any, settings: Settings, fields: str, reason: str
) -> None:
    add_acme(run)
    ref = "R" * 256 if reason == "external_ref: " else "BAD"
    bad = f'{{"company_ref_id": 1001, "external_ref": "{ref}", {fields}}}'
    good = [json.dumps({**ORDER, "external_ref": f"WEB-{n}"}) for n in range(1, 5)]
    ndjson = "\n".join([good[0], bad, good[1]]) + "\n"
    array = "[" + ",\n".join([good[2], bad, good[3]]) + "]"
    for stdin, position in [(ndjson, {"line": 2}), (array, {"index": 1})]:
        report = assert_summary(run("import", "orders", "-", stdin=stdin))
        assert (report["created"], report["rejected"]) == (2, 1)
        assert report["errors"][0].items() >= position.items()
        assert report["errors"][0]["reason"].startswith(reason)
    engine = make_engine(settings)
    with engine.connect() as conn:
        stored = conn.execute(select(orders.c.external_ref).order_by(orders.c.id)).scalars().all()
    engine.dispose()
    assert stored == ["WEB-1", "WEB-2", "WEB-3", "WEB-4"]


def test_a_missing_file_is_a_usage_error(run: Any, tmp_path: Path) -> None:
    result = run("import", "orders", str(tmp_path / "nope.json"))
    assert_clean_failure(result, "nope.json': No such file or directory", code=2)


def test_demo_prints_the_demo_clients_credentials_once(run: Any) -> None:
    result = run("demo", "--orders", "20", "--seed", "3")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert set(printed) == {
        "client_id", "client_secret", "companies", "orders", "items", "retailer", "fulfiller"
    }  # fmt: skip
    assert printed["retailer"]["scope"] == "orders.write"
    assert printed["fulfiller"]["scope"] == "orders.fulfil"
    assert (printed["companies"], printed["orders"]) == (9, 20)
    assert_clean_failure(run("demo"), "Error: The database already holds data (9 companies")


def test_an_unreachable_database_is_a_message(run: Any) -> None:
    result = CliRunner().invoke(
        cli, ["--database-url", "postgresql://nobody@127.0.0.1:1/x", "companies", "list"]
    )
    assert_clean_failure(result, "Error: Cannot open the database: ")


@pytest.mark.parametrize(
    "words",
    [
        ("companies",),
        ("companies", "add"),
        ("companies", "set-subscription"),
        ("companies", "list"),
        ("import",),
        ("import", "orders"),
        ("import", "products"),
        ("demo",),
    ],
)
def test_every_admin_command_has_an_example_in_its_help(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0
    assert "  Example:\n      oms-export " in result.stdout
