"""`gba plugin new` writes a plugin whose module works as generated (the integration test
installs one in a fresh venv and runs its own tests)."""

import importlib
import sys

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import ConfigError
from gba_core.registry import load_toolset
from gba_core.scaffold import create_plugin, scaffold_for
from gba_core.testing import ScriptedLLM, check_tool_pair
from gba_core.tools import FunctionTool, ToolContext, simulate


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """Generate a plugin, import its package; forget the module afterwards."""
    made = []

    def make(name, **options):
        folder = create_plugin(scaffold_for(name, **options), tmp_path)
        monkeypatch.syspath_prepend(str(folder))
        package = folder.name.replace("-", "_")
        made.append(package)
        return folder, importlib.import_module(package)

    yield make
    for package in made:
        sys.modules.pop(package, None)


def test_the_class_style_tool_and_twin_work_as_generated(generated, register_plugin):
    folder, module = generated("word-stats")
    assert (folder / "gba_word_stats" / "templates" / "word_stats_simulated.j2").is_file()
    assert 'word-stats = "gba_word_stats"' in (folder / "pyproject.toml").read_text()
    real, twin = module.WordStats(), module.SimulatedWordStats()
    check_tool_pair(real, twin, task="Count the words of: one two three.")
    llm = ScriptedLLM([{"text": "one two three."}])
    assert real.run("r", "Count: one two three.", [], ToolContext(llm=llm)) == (
        "words: 3, sentences: 1, characters: 14"
    )
    register_plugin(module, "word-stats")
    tools = load_toolset()
    assert tools.origins[("word_stats", "real")] == "word-stats"
    assert tools.origins[("word_stats", "simulated")] == "word-stats"


def test_the_function_style_derives_the_twin(generated):
    folder, module = generated("fn-stats", tool="count_words", style="function")
    assert not (folder / "gba_fn_stats" / "templates").exists()
    assert isinstance(module.TOOL, FunctionTool) and module.TOOL.name == "count_words"
    check_tool_pair(module.TOOL, simulate(module.TOOL))
    assert module.count_words("a b.") == "words: 2, sentences: 1, characters: 4"


def test_bad_names_and_an_existing_folder_are_refused(tmp_path):
    for name in ("Notes", "my_notes", "-x", "a--b"):
        with pytest.raises(ConfigError, match="lower-case letters"):
            scaffold_for(name)
    with pytest.raises(ConfigError, match="lower_snake_case"):
        scaffold_for("notes", tool="Add-Note")
    create_plugin(scaffold_for("notes"), tmp_path)
    result = CliRunner().invoke(cli, ["plugin", "new", "notes", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "exists and is not empty" in result.output


def test_plugin_new_prints_what_it_wrote_and_what_to_do_next(tmp_path):
    result = CliRunner().invoke(cli, ["plugin", "new", "gba-notes", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gba-notes" / "gba_notes" / "__init__.py").is_file()
    assert "tool notes, entry point gba-notes" in result.output
    assert f"gba install -e {tmp_path / 'gba-notes'}" in result.output
