"""Every `workbench` command is documented: in its --help, and by name in the docs."""

from __future__ import annotations

import argparse

import pytest

from tests.support import ROOT
from workbench.cli import build_parser

DOC_FILES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "images" / "lab" / "README.md"]


def _commands(parser: argparse.ArgumentParser, prefix: str = "workbench") -> dict[str, str]:
    """'workbench images build' -> its help text, for every leaf command."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                leaves = _commands(sub, f"{prefix} {name}")
                found.update(leaves or {f"{prefix} {name}": helps.get(name, "")})
    return found


COMMANDS = _commands(build_parser())


def test_the_known_commands_are_there() -> None:
    assert {"workbench up", "workbench settings", "workbench data fetch", "workbench images build"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_has_help_and_a_page(command: str) -> None:
    assert COMMANDS[command].strip(), f"`{command}` has no help text in `workbench --help`"
    docs = "\n".join(p.read_text() for p in DOC_FILES if p.exists())
    assert f"`{command}" in docs, (
        f"`{command}` is not named in docs/ (see docs/operations.md's command table)"
    )
