"""`gba install` / `gba uninstall` aim pip or uv at the environment gba runs in (the
integration test tests/integration/test_plugin_scaffold.py installs for real)."""

import sys

import pytest
from click.testing import CliRunner

from gba_core import installer
from gba_core.cli import cli
from gba_core.errors import ConfigError
from gba_core.installer import EntryPoint, describe_change, install_command, uninstall_command


def test_pip_of_this_interpreter_is_used_when_present(monkeypatch):
    monkeypatch.setattr(installer, "_has_pip", lambda: True)
    command = install_command(("gba-notes",), editable=("./mine",), upgrade=True)
    assert command == [
        sys.executable, "-m", "pip", "install", "--upgrade", "-e", "./mine", "gba-notes",
    ]  # fmt: skip
    assert uninstall_command(("pluggy",))[-2:] == ["-y", "pluggy"]


def test_uv_targets_this_interpreter_when_it_has_no_pip(monkeypatch):
    # A `uv tool install` environment has no pip: a bare `uv pip install` would pick
    # another environment, so the interpreter is named.
    monkeypatch.setattr(installer, "_has_pip", lambda: False)
    monkeypatch.setattr(installer.shutil, "which", lambda name: "/opt/bin/uv")
    assert install_command(("gba-notes",), force_reinstall=True) == [
        "/opt/bin/uv", "pip", "install", "--python", sys.executable,
        "--force-reinstall", "gba-notes",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="has no pip: use --installer uv"):
        install_command(("gba-notes",), installer="pip")


def test_without_pip_or_uv_the_error_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(installer, "_has_pip", lambda: False)
    monkeypatch.setattr(installer.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="ensurepip"):
        install_command(("gba-notes",))


def test_uninstall_takes_plugin_names_and_refuses_unknown_ones(monkeypatch):
    plugins = {"units": EntryPoint("units", "gba-units", "1.0")}
    monkeypatch.setattr(installer, "gba_entry_points", lambda: plugins)
    assert uninstall_command(("units", "gba-units"))[-2:] == ["-y", "gba-units"]
    with pytest.raises(ConfigError, match=r"'unitz' is neither .* plugins: units \(gba-units\)"):
        uninstall_command(("unitz",))
    result = CliRunner().invoke(cli, ["uninstall", "unitz"])
    assert result.exit_code == 2 and "'unitz' is neither a gba plugin" in result.output


def test_gba_core_itself_is_not_uninstalled():
    with pytest.raises(ConfigError, match="that is gba itself"):
        uninstall_command(("gba_core",))
    result = CliRunner().invoke(cli, ["uninstall", "gba-core"])
    assert result.exit_code == 2 and "that is gba itself" in result.output
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 2 and "name a package to install" in result.output


def test_changes_to_installed_plugins_are_described():
    before = {"a": EntryPoint("a", "gba-a", "1.0"), "b": EntryPoint("b", "gba-b", "1.0")}
    after = {"a": EntryPoint("a", "gba-a", "1.1"), "c": EntryPoint("c", "gba-c", "0.1")}
    assert describe_change(before, after) == [
        "added plugin c (gba-c 0.1)",
        "removed plugin b (gba-b)",
        "plugin a: gba-a 1.0 → gba-a 1.1",
    ]
