"""The installed distributions' commands are lazy, and what `gba --help` says of each
is what the command itself says."""

import json
import subprocess
import sys

import click
import pytest

from gba_core import plugins
from gba_core.cli import LazyCommand

pytestmark = pytest.mark.entry_points

COMMANDS = {"sim": "gba_sim.cli", "train": "gba_train.cli", "search": "gba_tools_search.cli"}


def test_help_lists_the_plugin_commands_without_importing_their_modules():
    code = f"""
import json, sys
from click.testing import CliRunner
from gba_core.cli import cli
out = CliRunner().invoke(cli, ["--help"]).output
print(json.dumps({{"listed": [n for n in {list(COMMANDS)!r} if f"  {{n}} " in out],
                  "imported": [m for m in {list(COMMANDS.values())!r} if m in sys.modules]}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"listed": list(COMMANDS), "imported": []}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_help_is_the_commands_own(name):
    group = click.Group()
    plugins.add_commands(group)  # what the plugins register, on a group of the test's own
    lazy = group.commands[name]
    assert isinstance(lazy, LazyCommand)
    real = lazy.load()
    assert " ".join((real.help or "").split()) == " ".join((lazy.help or "").split())
