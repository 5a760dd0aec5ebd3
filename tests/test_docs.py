"""Every command explains itself with an example, and the README covers every command and figure."""

import re

import pytest

from conftest import ROOT
from custlens.cli import cli
from custlens.summary import COLUMNS

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_help_has_examples(run, name):
    result = run(name, "--help")
    assert result.exit_code == 0
    assert re.search(rf"^\s+custlens {re.escape(name)} ", result.stdout, re.M), f"{name}: no example in --help"
    assert f"custlens {name}" in README, f"{name} is not in the README"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


@pytest.mark.parametrize("column", COLUMNS)
def test_every_summary_column_is_defined(column):
    assert re.search(rf"^\| `{column}` \| .+\|$", README, re.M), f"{column} has no definition in the README"


def test_top_level_help_lists_every_command(run):
    result = run("--help")
    for name in cli.commands:
        assert name in result.stdout
