"""Lazy plugin commands: listed by `gba --help` unloaded, loaded when they run; the
installed distributions' commands are lazy, and what `gba --help` says of each is what
the command itself says."""

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from gba_core import hookimpl, plugins
from gba_core.cli import LazyCommand, cli

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


@pytest.mark.usefixtures("fresh_plugins")
def test_a_lazy_plugin_command_is_listed_unloaded_and_loaded_when_it_runs(tmp_path, monkeypatch):
    import sys

    (tmp_path / "lazy_hello_cli.py").write_text(
        "import click\n\n"
        "@click.command()\n"
        "def hello():\n"
        '    """Say hello, lazily."""\n'
        '    click.echo("hello after loading")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            cli.add_command(LazyCommand("lazy-hello", "lazy_hello_cli:hello", "Say hello, lazily."))

    plugins.register_plugin(Commands(), "lazy-commands")
    try:
        listing = CliRunner().invoke(cli, ["--help"]).output
        assert "lazy-hello  Say hello, lazily." in listing
        assert "lazy_hello_cli" not in sys.modules
        result = CliRunner().invoke(cli, ["lazy-hello"])
        assert result.output.strip() == "hello after loading"
        assert "lazy_hello_cli" in sys.modules
        assert not isinstance(cli.commands["lazy-hello"], LazyCommand)  # loaded once, kept
    finally:
        cli.commands.pop("lazy-hello", None)
        sys.modules.pop("lazy_hello_cli", None)


def test_a_lazy_command_whose_target_is_no_command_says_so(tmp_path, monkeypatch):
    (tmp_path / "lazy_not_a_command.py").write_text("hello = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="lazy_not_a_command:hello is not a click command"):
        LazyCommand("x", "lazy_not_a_command:hello", "X.").load()
