"""The docs tell the truth: settings, fields and statuses match the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms_export.export.fields import FIELDS
from oms_export.settings import settings_markdown
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec"


def test_settings_page_is_generated_from_the_settings_class() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == settings_markdown(), "run: python -m oms_export.settings > docs/settings.md"


def _spec_rows(name: str) -> list[list[str]]:
    path = SPEC / name
    if not path.exists():
        pytest.skip(f"{path} is not beside this checkout")
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return [line.split("\t") for line in lines[1:]]


def test_field_list_matches_the_spec_in_name_order_and_option() -> None:
    assert [(name, option) for name, option in FIELDS] == [
        (row[0], row[1].strip()) for row in _spec_rows("fields.tsv")
    ]


def test_status_names_match_the_spec() -> None:
    rows = _spec_rows("statuses.tsv")
    assert {int(code): name for kind, code, name, _ in rows if kind == "order"} == ORDER_STATUSES
    assert {int(code): name for kind, code, name, _ in rows if kind == "item"} == ITEM_STATUSES


def test_every_field_is_documented_in_the_api_docs() -> None:
    page = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name, _ in FIELDS if f"`{name}`" not in page]
    assert missing == []
