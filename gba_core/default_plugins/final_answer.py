"""The built-in ``final_answer`` tool and its twin: the LLM writes the answer from the
scratchpad. The twin behaves the same with the simulator LLM, so simulated trajectories
end the way real ones do."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from gba_core import hookimpl
from gba_core.llm.base import degenerate
from gba_core.roles import Output, RoleExample, ToolRole, matches_expected
from gba_core.schema import Scratchpad
from gba_core.tools import SimulatedTool, Tool, ToolContext

DESCRIPTION = (
    "Give the final answer to the user. Use it when the results so far are enough to "
    "answer the request, or when the request cannot be answered; the task says what to answer."
)


# The planner's task for final_answer is an instruction ("Tell the user the Titanic sank
# in 1912."): what follows the instruction is the answer it means.
_INSTRUCTION = re.compile(
    r"^(?:please\s+)?(?:(?:tell|inform|remind|answer)\s+the\s+user|let\s+the\s+user\s+know"
    r"|say|answer|explain|reply)\s*(?:that\s+|:\s*)?",
    re.I,
)


def answer_from_task(task: str) -> str:
    """The answer a final_answer task carries, in the user's terms ("Tell the user they
    need 4 litres." -> "You need 4 litres."); the task itself when it is no instruction."""
    text = task.strip()
    stripped = _INSTRUCTION.sub("", text, count=1)
    if stripped == text or not stripped:
        return text
    if re.match(r"they\b", stripped, re.I):
        stripped = "you" + stripped[4:]
    return stripped[:1].upper() + stripped[1:]


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()).rstrip(".") == " ".join(b.lower().split()).rstrip(".")


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def unusable(answer: str, task: str) -> bool:
    """Output that is no answer: empty or looping, the planner's instruction echoed, the
    prompt's scratchpad copied out ("Request: ...", "Result of ..."), or a JSON object
    (a tool's arguments, seen from the 270M after a calendar entry)."""
    head = answer.lstrip()
    return (
        degenerate(answer)
        or _same(answer, task)
        or head.startswith(("Request:", "Result of", "What to answer:"))
        or 'Result of "' in answer
        or _json_object(head)
    )


def right_answer(example: RoleExample, output: Output) -> bool:
    """An answer is right when it carries the expected facts and is a usable answer."""
    text = output if isinstance(output, str) else ""
    return matches_expected(example, text) and not unusable(text, example.task)


ROLE = ToolRole(
    "final_answer",
    "final_answer.j2",
    max_tokens=256,
    examples=("final_answer.jsonl",),
    examples_package=__package__,
    check=right_answer,
)


def write_answer(request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
    answer = ROLE.ask(ctx, request=request, task=task, scratchpad=scratchpad)
    # Base models like to label the answer; the CLI labels it already.
    answer = answer.removeprefix("Answer:").strip()
    # A small model sometimes writes nothing, loops, echoes its instruction or copies its
    # prompt; the planner's task already says what to answer.
    return answer_from_task(task) if unusable(answer, task) else answer


class FinalAnswer(Tool):
    name = "final_answer"
    description = DESCRIPTION
    roles = (ROLE,)

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        return write_answer(request, task, scratchpad, ctx)


class SimulatedFinalAnswer(SimulatedTool):
    name = "final_answer"
    description = DESCRIPTION

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        # "simple": the planner's task is the answer, which saves a call per trajectory
        # when only the plans matter (as for a planner's training data).
        if ctx.options.direct_answer == "simple":
            return task
        return write_answer(request, task, scratchpad, ctx)


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    register(FinalAnswer())


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    register(SimulatedFinalAnswer())
