"""docs/cli.md's command reference: every command's ``--help``, as click writes it.

The page holds a cog block that calls :func:`command_reference`; ``cog -r -I . docs/cli.md``
rewrites it and tests/docs/test_cli_reference.py checks it is current.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from oms_export.cli.main import cli

WIDTH = 78
"""What click gives help on an 80-column terminal (two columns less), so the page shows what a
user sees there."""


def _commands(
    command: click.Command, parent: click.Context | None = None
) -> Iterator[click.Context]:
    name = command.name if parent else "oms-export"
    # As ``--help`` makes it (the command's context settings apply), without running anything.
    ctx = command.make_context(
        name,
        [],
        parent=parent,
        resilient_parsing=True,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    yield ctx
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, ctx)


def command_reference() -> str:
    """Markdown: a heading and the help text of each command, groups before their commands.

    Example: ``### `oms-export db upgrade``` followed by its help in a ``text`` block.
    """
    parts = []
    for ctx in _commands(cli):
        parts.append(f"### `{ctx.command_path}`\n\n```text\n{ctx.get_help()}\n```\n")
    return "\n".join(parts)
