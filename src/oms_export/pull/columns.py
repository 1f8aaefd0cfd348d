"""The type of each export field, so files and tables get typed columns even for all-null data.

The types are the field registry's (``oms_export.fields``, which imports nothing, so ``pull``
stays free of the server): what the service's JSON values are, checked against a full export by
``tests/client/test_columns.py``. Names not in the registry, attribute columns included, are text.
"""

from __future__ import annotations

from typing import Final

from oms_export.fields import FIELDS, JsonType

ColumnType = JsonType

_TYPES: Final[dict[str, ColumnType]] = {field.name: field.json_type for field in FIELDS}


def column_type(name: str) -> ColumnType:
    return _TYPES.get(name, "text")
