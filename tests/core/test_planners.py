import itertools
import os
from datetime import date

import pytest

from gba_core.errors import ConfigError, InvalidOutputError
from gba_core.llm.formats import format_plain
from gba_core.llm.scripted import ScriptedLLM
from gba_core.planners import BriefPlanner, FineTunedPlanner, ZeroShotPlanner
from gba_core.registry import get_planner
from gba_core.schema import Plan, ScratchpadEntry
from gba_core.tools import SimulatedTool

TOOLS = {
    "search_wikipedia": SimulatedTool("search_wikipedia", "Search an encyclopedia for facts."),
    "final_answer": SimulatedTool("final_answer", "Give the final answer."),
}
PLAN = {
    "context_information_summary": "Nothing yet.",
    "thoughts": "Look it up.",
    "task": "Find the height of the Eiffel Tower.",
    "selected_tool": "search_wikipedia",
}


def test_zero_shot_prompt_lists_tools_fine_tuned_does_not():
    llm = ScriptedLLM()
    zero = ZeroShotPlanner(TOOLS, llm).messages("How tall is the Eiffel Tower?", [])
    tuned = FineTunedPlanner(TOOLS, llm).messages("How tall is the Eiffel Tower?", [])
    zero_text, tuned_text = format_plain(zero), format_plain(tuned)
    assert "Search an encyclopedia for facts." in zero_text
    assert "search_wikipedia" in zero_text
    assert "Search an encyclopedia" not in tuned_text and "search_wikipedia" not in tuned_text
    assert "How tall is the Eiffel Tower?" in tuned_text
    assert len(tuned_text) < len(zero_text) / 2


def test_plan_is_schema_constrained_to_the_tool_set():
    llm = ScriptedLLM([PLAN])
    planner = ZeroShotPlanner(TOOLS, llm)
    result = planner.plan("How tall is the Eiffel Tower?", [])
    assert type(result.plan) is Plan and result.plan.selected_tool == "search_wikipedia"
    schema = llm.calls[0].schema.model_json_schema()
    assert schema["properties"]["selected_tool"]["enum"] == list(TOOLS)
    with pytest.raises(InvalidOutputError):
        ZeroShotPlanner(TOOLS, ScriptedLLM([{**PLAN, "selected_tool": "send_email"}])).plan("x", [])


@pytest.mark.parametrize("planner_cls", [ZeroShotPlanner, FineTunedPlanner])
def test_prompt_of_step_n_is_a_prefix_of_step_n_plus_1(planner_cls):
    """The stable part comes first, so llama.cpp can reuse the KV cache across steps."""
    planner = planner_cls(TOOLS, ScriptedLLM())
    pad = [ScratchpadEntry(task="Find it", tool="search_wikipedia", result="330 m")]
    pad2 = [*pad, ScratchpadEntry(task="Convert", tool="search_wikipedia", result="1083 ft")]
    texts = [format_plain(planner.messages("How tall?", p)) for p in ([], pad, pad2)]
    tail = len("\n\nNo steps yet.\n\n### Assistant\n")
    for shorter, longer in itertools.pairwise(texts):
        # only the closing lines of the shorter prompt differ
        assert len(os.path.commonprefix([shorter, longer])) >= len(shorter) - tail  # noqa: RUF071


@pytest.mark.parametrize("planner_cls", [ZeroShotPlanner, FineTunedPlanner])
def test_the_users_date_and_weekday_come_before_the_request(planner_cls):
    planner = planner_cls(TOOLS, ScriptedLLM())
    dated = format_plain(planner.messages("Add lunch tomorrow", [], today=date(2026, 11, 24)))
    assert "Today is Tuesday, 2026-11-24.\nRequest: Add lunch tomorrow" in dated
    assert "Today is" not in format_plain(planner.messages("Add lunch tomorrow", []))


def test_each_step_is_sampled_with_its_own_reproducible_seed():
    def seeds(seed, requests):
        llm = ScriptedLLM([PLAN] * len(requests))
        planner = FineTunedPlanner(TOOLS, llm, temperature=0.7, seed=seed)
        for request, pad in requests:
            planner.plan(request, pad)
        return [call.seed for call in llm.calls]

    pad = [ScratchpadEntry(task="Find it", tool="search_wikipedia", result="330 m")]
    steps = [("How tall?", []), ("How tall?", pad), ("How old?", [])]
    first = seeds(7, steps)
    assert len(set(first)) == 3  # no two steps share a random stream
    assert seeds(7, steps) == first  # yet a run replays exactly
    assert set(seeds(8, steps)).isdisjoint(first)
    assert seeds(None, steps) == [None, None, None]


def test_the_fine_tuned_planner_writes_the_tool_first_the_zero_shot_one_last():
    for planner_cls, order in (
        (FineTunedPlanner, ["selected_tool", "context_information_summary", "thoughts", "task"]),
        (ZeroShotPlanner, ["context_information_summary", "thoughts", "task", "selected_tool"]),
    ):
        llm = ScriptedLLM([PLAN])
        result = planner_cls(TOOLS, llm).plan("How tall is the Eiffel Tower?", [])
        assert list(llm.calls[0].schema.model_json_schema()["properties"]) == order
        # Either way the step stores the one data model, in its own order.
        assert type(result.plan) is Plan and result.plan == Plan(**PLAN)


def test_the_brief_planner_writes_only_the_tool_and_the_task():
    brief = {"selected_tool": "search_wikipedia", "task": "Find the height of the Eiffel Tower."}
    llm = ScriptedLLM([brief])
    planner = BriefPlanner(TOOLS, llm)
    result = planner.plan("How tall is the Eiffel Tower?", [])
    schema = llm.calls[0].schema.model_json_schema()
    assert list(schema["properties"]) == ["selected_tool", "task"]
    assert schema["properties"]["selected_tool"]["enum"] == list(TOOLS)
    assert type(result.plan) is Plan and result.plan == Plan(**brief)
    assert result.plan.thoughts == result.plan.context_information_summary == ""
    # Its prompt is the fine-tuned planner's; its budget is that of the shorter plan.
    full = FineTunedPlanner(TOOLS, ScriptedLLM())
    assert planner.messages("How tall?", []) == full.messages("How tall?", [])
    assert planner.max_tokens < full.max_tokens / 2
    # A summary the plan has no room for is invalid output, not silently dropped.
    with pytest.raises(InvalidOutputError):
        BriefPlanner(TOOLS, ScriptedLLM([PLAN])).plan("x", [])


def test_get_planner_by_name_and_unknown_name():
    planner = get_planner("fine-tuned", tools=TOOLS, llm=ScriptedLLM())
    assert isinstance(planner, FineTunedPlanner)
    assert isinstance(get_planner("fine-tuned-brief", tools=TOOLS, llm=ScriptedLLM()), BriefPlanner)
    with pytest.raises(ConfigError, match="unknown planner 'nope'"):
        get_planner("nope", tools=TOOLS, llm=ScriptedLLM())


def test_the_final_answers_task_is_decoded_against_the_results_blanked():
    from gba_core.llm.base import Contrast

    brief = {"selected_tool": "final_answer", "task": "Tell the user it is 330 m."}
    pad = [ScratchpadEntry(task="Eiffel Tower height", tool="search_wikipedia", result="330 m")]
    llm = ScriptedLLM(default=brief, accepts_contrast=True)
    planner = BriefPlanner(TOOLS, llm, contrast=0.5)
    planner.plan("How tall is the Eiffel Tower?", [])
    planner.plan("How tall is the Eiffel Tower?", pad)
    first, second = llm.calls
    assert first.contrast is None  # no results yet, nothing to weigh
    assert isinstance(second.contrast, Contrast)
    assert second.contrast.weight == 0.5 and second.contrast.after == '"final_answer"'
    blank = format_plain(second.contrast.messages)
    assert "330 m" in second.prompt and "330 m" not in blank
    assert "Eiffel Tower height" in blank  # the steps stay, only their results go
    assert second.contrast.messages == planner.messages(
        "How tall is the Eiffel Tower?", [pad[0].model_copy(update={"result": ""})]
    )


def test_no_contrast_when_off_or_when_the_backend_cannot():
    pad = [ScratchpadEntry(task="t", tool="search_wikipedia", result="r")]
    brief = {"selected_tool": "final_answer", "task": "Tell the user r."}
    off = ScriptedLLM(default=brief, accepts_contrast=True)
    BriefPlanner(TOOLS, off, contrast=0).plan("q", pad)
    unable = ScriptedLLM(default=brief)
    BriefPlanner(TOOLS, unable, contrast=0.5).plan("q", pad)
    assert off.calls[0].contrast is None and unable.calls[0].contrast is None
    with pytest.raises(ConfigError, match="contrast must be 0 or more"):
        BriefPlanner(TOOLS, off, contrast=-1)


def test_the_contrast_weight_comes_from_the_settings(monkeypatch):
    pad = [ScratchpadEntry(task="t", tool="search_wikipedia", result="r")]
    llm = ScriptedLLM(default={"selected_tool": "final_answer", "task": "x"}, accepts_contrast=True)
    # A fine-tuned planner has it on at its own weight, a zero-shot one off.
    assert BriefPlanner(TOOLS, llm).contrast == FineTunedPlanner.contrast > 0
    assert ZeroShotPlanner(TOOLS, llm).contrast == 0
    monkeypatch.setenv("GBA_PLANNER_CONTRAST", "0.25")
    BriefPlanner(TOOLS, llm).plan("q", pad)
    assert llm.calls[-1].contrast is not None and llm.calls[-1].contrast.weight == 0.25
    assert BriefPlanner(TOOLS, llm, contrast=0).contrast == 0  # the argument wins
    monkeypatch.setenv("GBA_PLANNER_CONTRAST", "0")
    BriefPlanner(TOOLS, llm).plan("q", pad)
    assert llm.calls[-1].contrast is None  # and the setting turns it off
    monkeypatch.setenv("GBA_PLANNER_CONTRAST", "lots")
    with pytest.raises(ConfigError, match="planner_contrast"):
        BriefPlanner(TOOLS, llm)
