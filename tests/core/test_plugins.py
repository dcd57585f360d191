import json
import re
import sys
import textwrap
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from gba_core import hookimpl, plugins
from gba_core.cli import cli
from gba_core.errors import PluginError
from gba_core.registry import llm_backends, load_toolset, planner_factories
from gba_core.tools import SimulatedTool, Tool


class Echo(Tool):
    name = "echo"
    description = "Repeat the task."

    def run(self, request, task, scratchpad, ctx):
        return task


class EchoTwin(SimulatedTool):
    name = "echo"
    description = "Repeat the task."


class EchoPlugin:
    @hookimpl
    def register_tools(self, register):
        register(Echo())

    @hookimpl
    def register_simulated_tools(self, register):
        register(EchoTwin())


def test_builtins_register_through_hooks():
    names = {info.name for info in plugins.list_plugins() if info.builtin}
    assert names == {"core.final_answer", "core.planners", "core.llms"}
    toolset = load_toolset()
    assert "final_answer" in toolset.real and "final_answer" in toolset.simulated
    assert {"zero-shot", "fine-tuned"} <= set(planner_factories())
    assert {"llama-cpp", "openai"} <= set(llm_backends())


def test_temporary_plugin_is_registered_then_gone(register_plugin):
    register_plugin(EchoPlugin(), "echo-plugin")
    toolset = load_toolset()
    assert toolset.origins[("echo", "real")] == "echo-plugin"
    assert toolset.origins[("echo", "simulated")] == "echo-plugin"
    plugins.unregister_plugin("echo-plugin")
    assert "echo" not in load_toolset().names
    plugins.register_plugin(EchoPlugin(), "echo-plugin")  # the fixture unregisters it


def test_duplicate_tool_name_names_both_plugins(register_plugin):
    register_plugin(EchoPlugin(), "first-echo")
    register_plugin(EchoPlugin(), "second-echo")
    with pytest.raises(PluginError) as err:
        load_toolset()
    assert "'echo'" in str(err.value)
    assert "first-echo" in str(err.value) and "second-echo" in str(err.value)


def test_duplicate_planner_name_is_an_error(register_plugin):
    class P:
        @hookimpl
        def register_planners(self, register):
            register("zero-shot", object)

    register_plugin(P(), "my-planners")
    with pytest.raises(PluginError, match=r"core.planners.*my-planners"):
        planner_factories()


def test_hook_may_take_a_subset_of_arguments(register_plugin):
    """pluggy's opt-in arguments: a hookimpl with no arguments is still called."""
    called = []

    class NoArgs:
        @hookimpl
        def register_tools(self):
            called.append(True)

    register_plugin(NoArgs())
    load_toolset()
    assert called == [True]


def test_registering_a_non_tool_or_bad_name_is_rejected(register_plugin):
    class Bad:
        @hookimpl
        def register_tools(self, register: Callable) -> None:
            register("not a tool")

    name = register_plugin(Bad())
    with pytest.raises(PluginError, match="expects a Tool"):
        load_toolset()
    plugins.unregister_plugin(name)

    class BadName(Echo):
        name = "Echo Tool"

    class Bad2:
        @hookimpl
        def register_tools(self, register):
            register(BadName())

    register_plugin(Bad2())
    with pytest.raises(PluginError, match="lower_snake_case"):
        load_toolset()


def test_failing_hook_is_charged_to_its_plugin_when_not_strict(register_plugin, monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")

    class Broken:
        @hookimpl
        def register_tools(self, register):
            raise RuntimeError("database missing")

    register_plugin(Broken(), "broken-tools")
    assert "final_answer" in load_toolset().names  # the other plugins still count
    info = {i.name: i for i in plugins.list_plugins()}["broken-tools"]
    assert "database missing" in info.error
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"broken-tools.*database missing"):
        load_toolset()


@pytest.fixture
def fake_distributions(tmp_path, monkeypatch):
    """Two installed distributions with `gba` entry points: one good, one broken."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "good_gba_plugin.py").write_text(
        textwrap.dedent("""
        from gba_core import hookimpl
        from gba_core.tools import SimulatedTool, Tool

        class Hello(Tool):
            name = "say_hello"
            description = "Say hello."
            def run(self, request, task, scratchpad, ctx):
                return "hello"

        @hookimpl
        def register_tools(register):
            register(Hello())
    """)
    )
    (site / "broken_gba_plugin.py").write_text("import does_not_exist_anywhere\n")
    for dist, module in (
        ("good-gba-plugin", "good_gba_plugin"),
        ("broken-gba-plugin", "broken_gba_plugin"),
    ):
        info = site / f"{module}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[gba]\n{dist} = {module}\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    for module in ("good_gba_plugin", "broken_gba_plugin"):
        sys.modules.pop(module, None)


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_broken_entry_point_is_listed_and_skipped(monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    infos = {i.name: i for i in plugins.list_plugins()}
    assert infos["broken-gba-plugin"].error.startswith("ModuleNotFoundError")
    assert infos["good-gba-plugin"].error is None
    assert infos["good-gba-plugin"].version == "1.2.3"
    assert infos["good-gba-plugin"].hooks == ["register_tools"]
    assert "say_hello" in load_toolset().names
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert "does_not_exist_anywhere" in listed["broken-gba-plugin"]["error"]
    assert CliRunner().invoke(cli, ["tools"]).exit_code == 0


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_strict_mode_turns_load_errors_into_failures(monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken-gba-plugin"):
        plugins.get_plugin_manager()


@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_allow_list_loads_only_named_plugins(monkeypatch):
    monkeypatch.setenv("GBA_PLUGINS", "good-gba-plugin")
    names = {i.name for i in plugins.list_plugins()}
    assert "good-gba-plugin" in names and "broken-gba-plugin" not in names
    assert "core.final_answer" in names  # built-ins are not subject to the allow list


@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_an_allow_list_naming_no_installed_plugin_says_so(monkeypatch, capsys):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    monkeypatch.setenv("GBA_PLUGINS", "good-gba-plugn")
    infos = {i.name: i for i in plugins.list_plugins()}
    assert infos["good-gba-plugn"].error == "not installed"
    err = capsys.readouterr().err
    assert "GBA_PLUGINS names 'good-gba-plugn', which is not an installed plugin" in err
    assert "good-gba-plugin" in err  # the names that are installed
    # a command whose plugin the allow list leaves out says why it is missing
    result = CliRunner().invoke(cli, ["nosuchcommand"])
    assert result.exit_code == 2 and "GBA_PLUGINS=good-gba-plugn loads only" in result.output
    plugins.reset()
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="good-gba-plugn"):
        plugins.get_plugin_manager()


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_gba_plugins_none_loads_the_builtins_alone(monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")  # the broken fake distribution is listed
    monkeypatch.setenv("GBA_PLUGINS", "none")
    rows = plugins.list_plugins()
    assert rows and all(row.builtin for row in rows)
    assert "say_hello" not in load_toolset().names  # the good fake distribution's tool
    monkeypatch.delenv("GBA_PLUGINS")
    plugins.reset()
    assert "say_hello" in load_toolset().names


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_deny_list_skips_named_plugins(monkeypatch):
    monkeypatch.setenv("GBA_DISABLE_PLUGINS", "broken-gba-plugin, core.planners")
    names = {i.name for i in plugins.list_plugins()}
    assert "broken-gba-plugin" not in names and "good-gba-plugin" in names
    assert "core.planners" not in names
    assert not {"zero-shot", "fine-tuned"} & set(planner_factories())


@pytest.mark.usefixtures("fresh_plugins")
def test_plugin_commands_are_added():
    import click

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-test")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    plugins.register_plugin(Commands(), "commands")  # before the CLI first lists commands
    try:
        result = CliRunner().invoke(cli, ["hello-test"])
        assert result.output.strip() == "hello from a plugin"
        assert "hello-test" in CliRunner().invoke(cli, ["--help"]).output
    finally:
        cli.commands.pop("hello-test", None)


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins")
def test_two_entry_points_with_one_name_keep_both_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    for dist in ("first-dup", "second-dup"):
        module = dist.replace("-", "_")
        (tmp_path / f"{module}.py").write_text("")
        info = tmp_path / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[gba]\ndup = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = [i for i in plugins.list_plugins() if i.name.startswith("dup")]
    assert len(rows) == 2
    loaded = [r for r in rows if r.error is None]
    refused = [r for r in rows if r.error is not None]
    assert len(loaded) == 1 and len(refused) == 1
    assert "already registered as 'dup'" in refused[0].error
    assert refused[0].distribution != loaded[0].distribution


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_a_load_failure_is_explained_with_its_entry_point_and_cause(monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    info = {i.name: i for i in plugins.list_plugins()}["broken-gba-plugin"]
    assert info.failed_in == "load"
    assert "'does_not_exist_anywhere', which is not installed" in info.hint
    assert "import does_not_exist_anywhere" in info.traceback
    shown = CliRunner().invoke(cli, ["plugins"]).output
    assert "entry point broken_gba_plugin: ModuleNotFoundError" in shown
    assert "1 failed; `gba plugins --traceback`" in shown
    traced = CliRunner().invoke(cli, ["plugins", "--traceback"]).output
    assert "Traceback (most recent call last)" in traced
    assert "import does_not_exist_anywhere" in traced
    listed = CliRunner().invoke(cli, ["tools"]).output
    assert "1 plugin(s) failed: broken-gba-plugin; `gba plugins` says why" in listed


def test_a_misspelt_hook_is_flagged_with_the_likely_name(register_plugin):
    class Typo:
        @hookimpl
        def register_tool(self, register):
            raise AssertionError("gba never calls a hook it does not define")

    register_plugin(Typo(), "typo-plugin")
    info = {i.name: i for i in plugins.list_plugins()}["typo-plugin"]
    assert info.failed_in == "check"
    assert "unknown hook 'register_tool' (did you mean register_tools?)" in info.error
    assert "final_answer" in load_toolset().names


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_trace_plugins_writes_loads_and_hook_calls_to_stderr(monkeypatch, capsys):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    monkeypatch.setenv("GBA_TRACE_PLUGINS", "1")
    load_toolset()
    err = capsys.readouterr().err
    assert re.search(
        r"gba trace: entry point good-gba-plugin = good_gba_plugin "
        r"\(good-gba-plugin 1\.2\.3\) loaded in [\d.]+ ms",
        err,
    )
    assert "entry point broken-gba-plugin = broken_gba_plugin" in err
    assert "failed: ModuleNotFoundError" in err
    assert re.search(r"register_tools → good-gba-plugin: registered say_hello \([\d.]+ ms\)", err)
    assert "register_tools → core.final_answer: registered final_answer" in err
    for off in ("0", "false", "No"):  # one reading of on/off for every GBA_* switch
        monkeypatch.setenv("GBA_TRACE_PLUGINS", off)
        plugins.reset()
        load_toolset()
        assert "gba trace" not in capsys.readouterr().err
    monkeypatch.setenv("GBA_TRACE_PLUGINS", "ON")
    plugins.reset()
    load_toolset()
    assert "gba trace" in capsys.readouterr().err


@pytest.mark.usefixtures("fresh_plugins", "fake_distributions")
def test_an_empty_allow_list_counts_as_unset(monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    monkeypatch.setenv("GBA_PLUGINS", " , ")
    assert "good-gba-plugin" in {i.name for i in plugins.list_plugins()}


@pytest.mark.entry_points
@pytest.mark.usefixtures("fresh_plugins")
def test_an_entry_point_naming_a_missing_module_says_reinstall(tmp_path, monkeypatch):
    monkeypatch.setenv("GBA_STRICT_PLUGINS", "0")
    info = tmp_path / "ghost_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gba]\nghost = ghost_module_gone\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ghost = {i.name: i for i in plugins.list_plugins()}["ghost"]
    assert "module 'ghost_module_gone', which is not importable" in ghost.hint
    assert "`gba install --force-reinstall ghost-dist`" in ghost.hint
