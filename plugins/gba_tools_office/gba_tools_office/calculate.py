"""calculate_number: the tool LLM writes Python, which runs in gba's sandbox."""

from __future__ import annotations

import json
from numbers import Real

from pydantic import BaseModel, Field

from gba_core.sandbox import run_python
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext, structured_answer

from .settings import sandbox_limits

DESCRIPTION = (
    "Compute a number (or a list of numbers) from numbers in the task or in earlier "
    "results: arithmetic, averages, percentages, unit conversions, date differences."
)


class Code(BaseModel):
    code: str = Field(max_length=2000, description="Python code that sets `result`.")


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class CalculateNumber(Tool):
    name = "calculate_number"
    description = DESCRIPTION

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        code = structured_answer(
            ctx,
            "calculate.j2",
            Code,
            request=request,
            task=task,
            scratchpad=scratchpad,
            package=__package__,
            max_tokens=700,
        ).code
        outcome = run_python(code, limits=sandbox_limits())
        if not outcome.ok:
            return f"Error: the calculation failed: {outcome.describe_failure()}"
        raw = outcome.files.get("result.json")
        value = json.loads(raw) if raw else None
        numbers = value if isinstance(value, list) else [value]
        if value is None or not numbers or not all(_is_number(v) for v in numbers):
            return "Error: the calculation did not set `result` to a number or list of numbers"
        return f"Result: {json.dumps(value)}"
