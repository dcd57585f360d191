"""The built-in ``final_answer`` tool and its twin: the LLM writes the answer from the
scratchpad. The twin behaves the same with the simulator LLM, so simulated trajectories
end the way real ones do."""

from __future__ import annotations

from collections.abc import Callable

from gba_core import hookimpl
from gba_core.llm.base import degenerate
from gba_core.prompts import render_messages
from gba_core.schema import Scratchpad
from gba_core.tools import SimulatedTool, Tool, ToolContext

DESCRIPTION = (
    "Give the final answer to the user. Use it when the results so far are enough to "
    "answer the request, or when the request cannot be answered; the task says what to answer."
)


def write_answer(request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
    messages = render_messages("final_answer.j2", request=request, task=task, scratchpad=scratchpad)
    answer = ctx.llm.complete(messages, max_tokens=256).content.strip()
    # Base models like to label the answer; the CLI labels it already.
    answer = answer.removeprefix("Answer:").strip()
    # A small model sometimes writes nothing or loops; the planner's task already says
    # what to answer.
    return task if degenerate(answer) else answer


class FinalAnswer(Tool):
    name = "final_answer"
    description = DESCRIPTION

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        return write_answer(request, task, scratchpad, ctx)


class SimulatedFinalAnswer(SimulatedTool):
    name = "final_answer"
    description = DESCRIPTION

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        # "simple": the planner's task is the answer, which saves a call per trajectory
        # when only the plans matter (as for a planner's training data).
        if ctx.options.get("direct_answer") == "simple":
            return task
        return write_answer(request, task, scratchpad, ctx)


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    register(FinalAnswer())


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    register(SimulatedFinalAnswer())
