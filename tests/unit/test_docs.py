"""The docs tell the truth: settings, fields and statuses match the code."""

from __future__ import annotations

import re
from pathlib import Path

from oms_export.fields import fields_markdown, with_field_table
from oms_export.settings import settings_markdown
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES
from tests.spec import spec_rows

ROOT = Path(__file__).resolve().parents[2]


def test_settings_page_is_generated_from_the_settings_class() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == settings_markdown(), "run: python -m oms_export.settings > docs/settings.md"


def test_status_names_match_the_spec() -> None:
    rows = spec_rows("statuses.tsv")
    assert {int(code): name for kind, code, name, _ in rows if kind == "order"} == ORDER_STATUSES
    assert {int(code): name for kind, code, name, _ in rows if kind == "item"} == ITEM_STATUSES


def test_the_api_docs_field_table_is_generated_from_the_registry() -> None:
    """The registry's names, order, options, types, filters and meanings, as the docs show them.

    (That the registry matches ``fields.tsv`` is tests/unit/test_fields.py's.)
    """
    page = (ROOT / "docs" / "api.md").read_text()
    assert fields_markdown() in page
    assert page == with_field_table(page), "run: python -m oms_export.fields docs/api.md"


def test_every_test_the_reliability_page_cites_exists() -> None:
    """docs/reliability.md holds each promise to a test by name: the names must stay true."""
    page = (ROOT / "docs" / "reliability.md").read_text()
    sources = {path.stem: path.read_text() for path in (ROOT / "tests").rglob("*.py")}
    defined = {name for text in sources.values() for name in re.findall(r"def (test_\w+)", text)}
    cited = set(re.findall(r"\btest_\w+", page))
    assert cited, "the page names its tests"
    assert sorted(cited - defined - set(sources)) == []
