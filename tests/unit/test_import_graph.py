"""Imports point one way: no module of the package reaches itself again through its imports.

The graph is read from the source with ``ast``, counting every import, also those made inside a
function or under ``TYPE_CHECKING``: a circle hidden that way is still a circle to the reader,
and the next edit that moves the import to the top turns it into an ImportError.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import oms_export

PACKAGE = Path(oms_export.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["oms_export", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``module`` names in its imports, wherever they stand."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from package import module` names the module
                named.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in named if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {module: _imports(module, path, known) for module, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as the path around it (first module repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph[module]):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        on_path.discard(path.pop())
        done.add(module)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_the_package_as_it_is() -> None:
    graph = import_graph()
    assert "oms_export.api.limits.redis_backed" in graph["oms_export.api.limits.factory"]
    assert "oms_export.api.export" in graph["oms_export.api.app"]  # `from oms_export.api import`


def test_the_package_has_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


LIMITS = [
    "oms_export.api.limits.contracts",
    "oms_export.api.limits.local",
    "oms_export.api.limits.keys",
    "oms_export.api.limits.redis_backed",
    "oms_export.api.limits.factory",
    "oms_export.api.admission",
    "oms_export.api.state",
]


@pytest.mark.parametrize("module", LIMITS)
def test_each_limits_module_imports_alone(module: str) -> None:
    """First import of each in a fresh interpreter: a circle would fail here in one order."""
    probe = f"import sys, {module}\nprint('redis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    # Only what uses Redis loads it: the contracts and the in-process flavours stay light.
    uses_redis = module.endswith(("redis_backed", "factory"))
    assert result.stdout.split() == [str(uses_redis)]
