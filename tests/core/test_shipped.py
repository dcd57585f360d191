"""Shipped planners: the manifest, the default choice, and what `gba run` / `gba planners`
do with them."""

import json
from datetime import date

import pytest
from click.testing import CliRunner

from gba_core import config, hookimpl
from gba_core.cli import cli
from gba_core.errors import ConfigError
from gba_core.registry import shipped_planners
from gba_core.shipped import (
    HeldOut,
    PlannerManifest,
    ShippedPlanner,
    ToolRoleModel,
    choose_planner,
    choose_tool_llm,
    dataset_sha256,
    text_sha256,
    tool_hashes,
)
from gba_core.testing import plan_answer

BASE = "llama-cpp:gemma-3-270m"


def tool_roles_model():
    return ToolRoleModel(
        adapter="tool_roles.gguf",
        adapter_sha256="0" * 64,
        roles=["calculate_number/calculate"],
        dataset_sha256="0" * 64,
        dataset_examples=3,
        recipe=["gba sim package-roles"],
        heldout_examples=1,
        heldout_accuracy={"all": 1.0},
    )


def write_shipped(
    folder, tools, *, name="test-planner", base=BASE, tool_roles=None, planner="fine-tuned"
):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter.gguf").write_bytes(b"GGUF")
    manifest = PlannerManifest(
        name=name,
        planner=planner,
        base_llm=base,
        base_sha256="0" * 64,
        adapter="adapter.gguf",
        adapter_sha256="0" * 64,
        tools=tool_hashes({tool: f"{tool} does things" for tool in tools}),
        dataset_sha256="0" * 64,
        dataset_examples=3,
        recipe=["gba train sft"],
        heldout=HeldOut(examples=2, next_tool_accuracy=0.5),
        built=date(2026, 12, 6),
        gba_version="0.1.0",
        tool_roles=tool_roles,
    )
    (folder / "manifest.json").write_text(manifest.model_dump_json())
    return ShippedPlanner.from_folder(folder)


def test_a_shipped_planner_that_knows_every_tool_is_the_default(tmp_path):
    shipped = write_shipped(tmp_path / "p", ["final_answer", "search"])
    choice = choose_planner(None, BASE, "default", ["search", "final_answer"], {"p": shipped})
    assert choice.planner == "fine-tuned" and choice.shipped is shipped
    assert choice.llm_spec == f"{BASE}?lora={tmp_path}/p/adapter.gguf"
    assert choice.note is None


def test_an_unknown_tool_falls_back_to_zero_shot_with_one_line_naming_it(tmp_path):
    shipped = write_shipped(tmp_path / "p", ["final_answer", "search"])
    choice = choose_planner(
        None, BASE, "default", ["search", "final_answer", "news"], {"p": shipped}
    )
    assert (choice.planner, choice.llm_spec) == ("zero-shot", BASE)
    assert "news" in choice.note and "search" not in choice.note and "\n" not in choice.note


def test_fine_tuned_without_a_model_uses_the_shipped_one_or_says_what_to_pass(tmp_path):
    shipped = write_shipped(tmp_path / "p", ["final_answer"])
    assert choose_planner("fine-tuned", BASE, "default", ["final_answer"], {"p": shipped}).shipped
    with pytest.raises(ConfigError, match="--planner-llm") as error:
        choose_planner("fine-tuned", BASE, "default", ["final_answer", "news"], {"p": shipped})
    assert "news" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="no shipped planner"):
        choose_planner("fine-tuned", BASE, "default", ["final_answer"], {})


def test_a_shipped_brief_planner_runs_as_the_brief_planner_under_either_name(tmp_path):
    shipped = {"p": write_shipped(tmp_path / "p", ["final_answer"], planner="fine-tuned-brief")}
    for requested in (None, "fine-tuned", "fine-tuned-brief"):
        choice = choose_planner(requested, BASE, "default", ["final_answer"], shipped)
        assert choice.planner == "fine-tuned-brief" and choice.shipped is shipped["p"]
    with pytest.raises(ConfigError, match="--planner fine-tuned-brief needs a fine-tuned model"):
        choose_planner("fine-tuned-brief", BASE, "default", ["final_answer"], {})


def test_a_model_the_user_chose_wins_over_a_shipped_planner(tmp_path):
    shipped = {"p": write_shipped(tmp_path / "p", ["final_answer"])}
    choice = choose_planner(None, "openai:big", "--planner-llm", ["final_answer"], shipped)
    assert (choice.planner, choice.llm_spec, choice.shipped) == ("zero-shot", "openai:big", None)
    # A shipped planner for another base model is not used on this one.
    other = {"p": write_shipped(tmp_path / "q", ["final_answer"], base="llama-cpp:other.gguf")}
    assert choose_planner(None, BASE, "default", ["final_answer"], other).planner == "zero-shot"
    named = choose_planner("zero-shot", BASE, "default", ["final_answer"], shipped)
    assert (named.planner, named.llm_spec) == ("zero-shot", BASE)


def test_tools_use_the_shipped_tool_role_adapter_unless_the_user_chose_a_model(tmp_path):
    plain = write_shipped(tmp_path / "p", ["final_answer"])
    both = write_shipped(tmp_path / "q", ["final_answer"], tool_roles=tool_roles_model())
    choice = choose_planner(None, BASE, "default", ["final_answer"], {"q": both})
    assert choose_tool_llm(BASE, "default", choice) == f"{BASE}?lora={tmp_path}/q/tool_roles.gguf"
    assert choose_tool_llm("openai:big", "--tool-llm", choice) == "openai:big"
    without = choose_planner(None, BASE, "default", ["final_answer"], {"p": plain})
    assert choose_tool_llm(BASE, "default", without) == BASE
    zero_shot = choose_planner(None, BASE, "default", ["final_answer", "news"], {"q": both})
    assert choose_tool_llm(BASE, "default", zero_shot) == BASE


def test_a_broken_manifest_is_one_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="manifest"):
        ShippedPlanner.from_folder(tmp_path)


def test_the_dataset_hash_ignores_bookkeeping_but_not_examples(tmp_path):
    def write(path, rows):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return dataset_sha256(path)

    row = {"prompt": [{"role": "user", "content": "q"}], "completion": [{"content": "a"}]}
    first = write(tmp_path / "a.jsonl", [{**row, "trajectory_id": "1"}])
    assert first == write(tmp_path / "b.jsonl", [{**row, "trajectory_id": "2"}])
    changed = {**row, "completion": [{"content": "b"}]}
    assert first != write(tmp_path / "c.jsonl", [changed])
    assert tool_hashes({"x": "d"}) == {"x": text_sha256("d")}


@pytest.fixture
def shipped_plugin(register_plugin, scripted_backend, tmp_path, monkeypatch):
    """A shipped planner, knowing every installed tool, on a scripted default model."""
    from gba_core.registry import load_toolset

    monkeypatch.setattr(config, "DEFAULT_LLM", "scripted:base")
    names = load_toolset().names
    shipped = write_shipped(tmp_path / "shipped", names, name="aaa-test", base="scripted:base")

    class Models:
        @hookimpl
        def register_planner_models(self, register):
            register(shipped)

    register_plugin(Models())
    assert "aaa-test" in shipped_planners()
    return shipped


def test_gba_run_uses_the_shipped_planner_by_default(shipped_plugin, scripted_backend):
    scripted_backend.add(plan_answer("final_answer", "Say hi"), "hi")
    result = CliRunner().invoke(cli, ["run", "Say hi", "--json"])
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.stdout)
    assert trajectory["planner"] == "fine-tuned"
    assert trajectory["planner_llm"] == "scripted:base"  # the backend's spec
    assert scripted_backend.calls[0].prompt.startswith("Plan the next step")
    shown = CliRunner().invoke(cli, ["planners", "--json"])
    assert shown.exit_code == 0, shown.output
    default = json.loads(shown.stdout)["default"]
    assert default["planner"] == "fine-tuned" and "aaa-test" in default["why"]
    assert default["llm"] == shipped_plugin.llm_spec()


def test_gba_run_gives_real_tools_the_shipped_tool_role_model(
    register_plugin, scripted_backend, tmp_path, monkeypatch
):
    import gba_core.registry
    from gba_core.registry import load_toolset

    monkeypatch.setattr(config, "DEFAULT_LLM", "scripted:base")
    shipped = write_shipped(
        tmp_path / "s", load_toolset().names, base="scripted:base", tool_roles=tool_roles_model()
    )

    class Models:
        @hookimpl
        def register_planner_models(self, register):
            register(shipped)

    register_plugin(Models())
    asked = []
    real_get_llm = gba_core.registry.get_llm

    def recording(spec, *args, **kwargs):
        asked.append(spec)
        return real_get_llm(spec, *args, **kwargs)

    monkeypatch.setattr(gba_core.registry, "get_llm", recording)
    scripted_backend.add(plan_answer("final_answer", "Say hi"), "hi")
    result = CliRunner().invoke(cli, ["run", "Say hi", "--json"])
    assert result.exit_code == 0, result.output
    assert asked == [shipped.llm_spec(), shipped.tool_llm_spec()]
    assert shipped.tool_llm_spec().endswith("/s/tool_roles.gguf")


def test_gba_run_names_the_tools_a_shipped_planner_does_not_know(
    shipped_plugin, scripted_backend, register_plugin
):
    from gba_core.tools import FunctionTool

    def news(topic: str) -> str:
        """Today's news about a topic.

        Args:
            topic: The topic.
        """
        return "nothing new"

    class News:
        @hookimpl
        def register_tools(self, register):
            register(FunctionTool(news))

    register_plugin(News())
    scripted_backend.add(plan_answer("final_answer", "Say hi"), "hi")
    result = CliRunner().invoke(cli, ["run", "Say hi", "--json"])
    assert result.exit_code == 0, result.output
    assert "Using the zero-shot planner" in result.stderr and "news" in result.stderr
    assert json.loads(result.stdout)["planner"] == "zero-shot"


def test_gba_run_fine_tuned_without_any_model_is_one_line(fresh_plugins, monkeypatch):
    monkeypatch.setenv("GBA_DISABLE_PLUGINS", "planner_270m")
    for name in ("GBA_LLM", "GBA_PLANNER_LLM"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["run", "Say hi", "--planner", "fine-tuned"])
    assert result.exit_code == 2
    assert "--planner-llm" in result.output and "Traceback" not in result.output
