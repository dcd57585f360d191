"""The OpenTelemetry export of agent runs, checked with the SDK's in-memory exporter:
the span tree, its GenAI attributes, and nothing when tracing is off."""

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gba_core import tracing
from gba_core.assembly import build_agent
from gba_core.llm.scripted import ScriptedLLM
from gba_core.registry import load_toolset
from gba_core.testing import plan_answer
from gba_core.tools import Tool


class Lookup(Tool):
    name = "lookup"
    description = "Look a fact up."

    def run(self, request, task, scratchpad, ctx):
        # A tool's own LLM call, as a real tool's role makes one.
        return "FACT: " + ctx.llm.complete([{"role": "user", "content": task}]).content


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("gba"), exporter


def agent(tracer, llm):
    tools = {"lookup": Lookup(), "final_answer": load_toolset().real["final_answer"]}
    return build_agent("zero-shot", tools, planner_llm=llm, tracer=tracer)


def test_a_run_is_a_tree_of_agent_step_plan_tool_and_chat_spans(exported):
    tracer, exporter = exported
    llm = ScriptedLLM(
        [
            plan_answer("lookup", "Find the capital of Peru."),
            "Lima",
            plan_answer("final_answer", "Tell the user it is Lima."),
            "The capital of Peru is Lima.",
        ],
        spec="scripted:test?api_key=sk-secret-value",
    )
    trajectory = agent(tracer, llm).run("What is the capital of Peru?")
    assert trajectory.status == "completed"
    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}

    def children(parent):
        found = [
            s for s in spans.values() if s.parent and s.parent.span_id == parent.context.span_id
        ]
        return sorted(found, key=lambda s: s.start_time)

    (root,) = [s for s in spans.values() if s.parent is None]
    assert root.name == "invoke_agent gba"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gba.status"] == "completed" and root.attributes["gba.steps"] == 2
    steps = children(root)
    assert [s.name for s in steps] == ["step 1", "step 2"]
    plan, tool = children(steps[0])
    assert plan.name == "plan zero-shot"
    assert tool.name == "execute_tool lookup"
    assert tool.attributes["gen_ai.tool.name"] == "lookup" and not tool.attributes["gba.tool.error"]
    (planner_chat,) = children(plan)
    (tool_chat,) = children(tool)
    for chat in (planner_chat, tool_chat):
        assert chat.name == "chat test"  # the model's name, never the spec's options
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "scripted"
        assert chat.attributes["gen_ai.usage.input_tokens"] >= 0
        assert "gba.seconds" in chat.attributes
    assert [s.name for s in children(steps[1])] == ["plan zero-shot", "execute_tool final_answer"]
    dumped = " ".join(f"{s.name} {dict(s.attributes)}" for s in spans.values())
    assert "sk-secret-value" not in dumped and "Peru" not in dumped  # no keys, no content


def test_tracing_off_wraps_nothing_and_opens_no_span(monkeypatch):
    monkeypatch.delenv("GBA_OTEL", raising=False)
    assert tracing.tracer() is None
    llm = ScriptedLLM([plan_answer("final_answer", "Say hi."), "Hi."])
    built = agent(None, llm)
    assert built.tracer is None and built.planner.llm is llm  # no wrapper on any call
    assert built.run("Hello").status == "completed"


def test_gba_otel_uses_the_program_s_tracer_provider(monkeypatch):
    monkeypatch.setenv("GBA_OTEL", "1")
    assert tracing.tracer() is not None
