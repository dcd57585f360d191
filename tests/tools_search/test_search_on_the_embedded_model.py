"""The search tools on the real embedded model (answer quality is the 270M's)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.registry import get_llm, load_toolset
from gba_core.tools import ToolContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model():
    return get_llm("llama-cpp:gemma-3-270m")


def test_the_wikipedia_twin_answers_on_the_embedded_model(model):
    twin = load_toolset().simulated["search_wikipedia"]
    out = twin.run("Football history", "Who won the 1966 World Cup?", [], ToolContext(llm=model))
    assert isinstance(out, str) and out.strip()


def test_search_wikipedia_runs_its_whole_pipeline_on_the_embedded_model(model, demo_index):
    from gba_tools_search.wikipedia import SearchWikipedia

    out = SearchWikipedia(index=demo_index).run(
        "Space history", "Who stayed in lunar orbit during Apollo 11?", [], ToolContext(llm=model)
    )
    assert 'Evidence from "Apollo 11": ' in out and "Michael Collins" in out
    assert out.rstrip().splitlines()[-1].startswith("Sources: Apollo 11")


def test_gba_run_answers_a_demo_question_through_search_wikipedia(demo_index, tmp_path):
    env = {**os.environ, "GBA_PLUGINS": "search", "GBA_WIKIPEDIA_INDEX": str(demo_index)}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("gba")),
            "run",
            "Who directed the film Jaws?",
            "--max-steps",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trajectory = json.loads(result.stdout)
    searches = [
        s
        for s in trajectory["steps"]
        if s["plan"] and s["plan"]["selected_tool"] == "search_wikipedia" and not s["repeated"]
    ]
    assert searches, "the planner never searched"
    assert any("Steven Spielberg" in s["observation"] for s in searches)
    answer = trajectory["final_answer"] or trajectory["limit_answer"] or ""
    assert "Spielberg" in answer, trajectory
