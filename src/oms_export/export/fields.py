"""The export row's fields as (name, option) pairs: a view of the registry, ``oms_export.fields``.

Kept for the tests and benchmarks that import these names; every field is described, once, in
the registry, and new code imports that.
"""

from __future__ import annotations

from typing import Final

from oms_export import fields as registry
from oms_export.fields import ALWAYS, field_names

__all__ = ["ALWAYS", "FIELDS", "OPTIONS", "field_names"]

OPTIONS: Final = tuple(registry.OPTIONS)

FIELDS: Final[tuple[tuple[str, str], ...]] = tuple((f.name, f.option) for f in registry.FIELDS)
