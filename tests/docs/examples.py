"""The shell examples of the README and docs/*.md, as a reader finds them, and what they should
print.

A fenced block in a shell language is an example. Just before it, an HTML comment
``<!-- not-run: WHY -->`` says it is not run (an install, the server itself, a placeholder to
fill in); every other example is run. A ```json block with ``<!-- output -->`` just before it is
the expected output of the example above it, as is a ``# prints {…}`` comment on an example's
one command. ``…`` in an expected output stands for any value. A block with
``<!-- file: NAME -->`` just before it is a file the reader saves, in which the examples of its
document may read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console", "zsh"})
ELLIPSIS = "…"

_FENCE = re.compile(r"^```(\S*)\s*$")
_COMMENT = re.compile(r"^<!--\s*(.*?)\s*-->$")
_PRINTS = re.compile(r"#\s*prints\s+(\{.*\})\s*$")


def documents() -> list[Path]:
    """The README, then docs/*.md in name order: the order a reader is sent through them."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Example:
    """One shell block of a document."""

    path: Path
    line: int  # 1-based line of the opening fence
    text: str
    not_run: str | None = None  # the reason given, when the block is marked not-run
    output: str | None = None  # the expected output's text, when the docs show one

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def assigned_names(self) -> list[str]:
        """Shell variables the block sets at the start of a line (``NAME=…``, ``export A=… B=…``),
        which the reader's shell keeps for the blocks that follow."""
        names: list[str] = []
        for line in self.text.splitlines():
            rest = re.sub(r"^\s*export\s+", "", line)
            while assignment := re.match(r"\s*([A-Za-z_]\w*)=(\S*)", rest):
                names.append(assignment.group(1))
                rest = rest[assignment.end() :]
        return list(dict.fromkeys(names))


def examples(path: Path) -> list[Example]:
    """Every shell block of one markdown file, with its marker and expected output."""
    return _read(path)[0]


def saved_files(path: Path) -> dict[str, str]:
    """The blocks of one markdown file that the reader saves, by file name."""
    return _read(path)[1]


def _read(path: Path) -> tuple[list[Example], dict[str, str]]:
    lines = path.read_text().splitlines()
    found: list[Example] = []
    files: dict[str, str] = {}
    last_comment: tuple[int, str] | None = None  # (line index, text) of the last HTML comment
    index = 0
    while index < len(lines):
        comment = _COMMENT.match(lines[index].strip())
        if comment:
            last_comment = (index, comment.group(1))
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        body = "\n".join(lines[index + 1 : end]) + "\n"
        marker = last_comment[1] if last_comment and last_comment[0] == index - 1 else ""
        language = fence.group(1)
        if marker.startswith("file:"):
            files[marker.removeprefix("file:").strip()] = body
        elif language in SHELL_LANGUAGES:
            example = Example(path, index + 1, body)
            if marker.startswith("not-run"):
                example.not_run = marker.removeprefix("not-run").lstrip(":").strip()
            command_lines = [line for line in body.splitlines() if line.strip()]
            prints = _PRINTS.search(command_lines[-1]) if len(command_lines) == 1 else None
            if prints:
                example.output = prints.group(1)
            found.append(example)
        elif language == "json" and marker == "output" and found:
            found[-1].output = body
        index = end + 1
    return found, files


def expected_value(text: str) -> Any:
    """The docs' expected JSON, where a bare ``…`` stands for any value."""
    return json.loads(re.sub(r'(?<!")…(?!")', f'"{ELLIPSIS}"', text))


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """How ``actual`` differs in substance from ``expected``: the same keys, and equal values
    wherever the docs give one rather than ``…``."""
    if expected == ELLIPSIS:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'value'}: expected an object, got {actual!r}"]
        problems = []
        if set(expected) != set(actual):
            problems.append(f"{where or 'object'}: keys {sorted(actual)} != {sorted(expected)}")
        for key in set(expected) & set(actual):
            problems += differences(expected[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where or 'value'}: expected an array, got {actual!r}"]
        if len(expected) != len(actual):
            return [f"{where or 'array'}: {len(actual)} elements, the docs show {len(expected)}"]
        return [
            p for i, e in enumerate(expected) for p in differences(e, actual[i], f"{where}[{i}]")
        ]
    if expected != actual:
        return [f"{where or 'value'}: {actual!r}, the docs show {expected!r}"]
    return []
