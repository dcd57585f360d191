"""The ``judge`` evaluator: an LLM rates each step of a trajectory (task, tool, result,
1–5 with an explanation) and its final answer (1–5), through schema-guided output.

Each step is rated in its own call, seeing the request and the earlier steps: short
prompts that small judges handle, and a rating that does not depend on later steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from gba_core.llm.base import LLM, Message
from gba_core.prompts import render_messages
from gba_core.schema import FinalRating, Rating, StepRating, Trajectory, scratchpad_of

RATING_TOKENS = 700


Answer = TypeVar("Answer", bound=BaseModel)


class Judge:
    def __init__(
        self, llm: LLM, *, tools: Mapping[str, str] | None = None, name: str = "judge"
    ) -> None:
        self.llm = llm
        self.tools = dict(tools or {})
        self.name = f"{name}:{llm.spec}"

    def rate(self, trajectory: Trajectory) -> Rating:
        scratchpad = scratchpad_of(trajectory.steps)
        request = trajectory.request.text
        steps = []
        for index, entry in enumerate(scratchpad):
            messages = render_messages(
                "judge_step.j2",
                package=__package__,
                request=request,
                tools=self.tools,
                earlier=scratchpad[:index],
                step=entry,
            )
            steps.append(self._ask(messages, StepRating))
        answer = trajectory.final_answer
        if answer is None:
            final = FinalRating(
                final_answer_rating=1,
                explanation=(f"No final answer: the run ended with status {trajectory.status}."),
            )
        else:
            messages = render_messages(
                "judge_final.j2",
                package=__package__,
                request=request,
                scratchpad=scratchpad,
                answer=answer,
            )
            final = self._ask(messages, FinalRating)
        return Rating(
            steps=steps,
            final_answer_rating=final.final_answer_rating,
            explanation=final.explanation,
            judge=self.name,
        )

    def _ask(self, messages: list[Message], schema: type[Answer]) -> Answer:
        parsed = self.llm.complete(messages, schema=schema, max_tokens=RATING_TOKENS).parsed
        return schema.model_validate(parsed)


def judge_factory(llm: LLM, **options: object) -> Judge:
    return Judge(llm, **options)  # type: ignore[arg-type]
