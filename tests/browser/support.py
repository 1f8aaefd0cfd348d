"""Helpers of the browser tests: the accessibility scan and screenshot checks."""

from __future__ import annotations

import os
import struct
from functools import cache
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page, ViewportSize

UPDATE_SCREENSHOTS_ENV = "OMS_EXPORT_UPDATE_SCREENSHOTS"
"""Set to 1 to rewrite the screenshots under docs/images/ (tests otherwise leave the tree as is)."""

PHONE: ViewportSize = {"width": 390, "height": 844}
"""A phone's viewport in CSS pixels (an iPhone 12 to 15)."""

SERIOUS = ("serious", "critical")


@cache
def _axe_script() -> str:
    # axe-core's own build, as the axe-playwright-python wheel ships it: no npm, no CDN.
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` as it is now (WCAG 2.x A and AA rules and best
    practices), each with ``id``, ``impact``, ``help`` and the ``nodes`` it found."""
    page.evaluate(_axe_script())
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line a violation, for an assertion message."""
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in SERIOUS]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its header; fails on anything else."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR", "a PNG starts with its IHDR chunk"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def update_screenshots() -> bool:
    return os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1"
