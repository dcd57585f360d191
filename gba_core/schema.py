"""The data model: plans, steps, trajectories, requests (pydantic v2)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, create_model

from gba_core.llm.base import Message

# Bounds on free-text plan fields. A base model left unbounded can emit digits until
# max_tokens cuts the JSON; a bound in the schema becomes a bound in the grammar.
FIELD_MAX_CHARS = {
    "context_information_summary": 300,
    "thoughts": 300,
    "task": 200,
}


class Plan(BaseModel):
    """What a planner decides at one step: a task in plain words and the tool for it.

    The tool comes first: this is the order the fine-tuned planner is trained to write,
    so its choice is made from the prompt, not after some 85 sampled tokens of summary
    and thoughts that can each derail it. The 270M fine-tuned this way chose the expected
    tool on 0.79 of held-out steps against 0.67 with the tool last (bench/README.md).
    Untrained models reason first: the zero-shot planner's schema
    (``plan_model(..., tool_first=False)``) puts the tool last.

    A brief plan (``plan_model(..., brief=True)``) is only the tool and the task; its
    summary and thoughts stay empty.

    A planner may write a plan class of its own, a subclass that adds fields and says in
    ``written_order`` the order it writes them in (gba-sim's teacher restates the request
    first). A step stores the plan as the class it is, and a stored plan's added fields
    load back as extra fields of a ``Plan``.
    """

    model_config = ConfigDict(extra="allow")
    # The order a decoder writes the fields in, when it is not Plan's; and the bound of
    # each free-text field.
    written_order: ClassVar[tuple[str, ...] | None] = None
    max_chars: ClassVar[dict[str, int]] = FIELD_MAX_CHARS

    selected_tool: str = Field(description="Name of the tool that performs the task.")
    context_information_summary: str = Field(
        "", description="What is known so far from the request and previous results."
    )
    thoughts: str = Field("", description="Reasoning about what to do next.")
    task: str = Field(description="The next task, in plain words, for the selected tool.")

    def core_fields(self) -> dict[str, str]:
        """The fields of ``Plan`` itself, without any a subclass or storage added."""
        return {name: getattr(self, name) for name in Plan.model_fields}


BRIEF_PLAN_FIELDS = ("selected_tool", "task")


def plan_fields(
    plan_class: type[Plan] = Plan, *, tool_first: bool = True, brief: bool = False
) -> list[str]:
    """The fields a planner writes, in the order it writes them."""
    if plan_class.written_order:
        return list(plan_class.written_order)
    names = list(BRIEF_PLAN_FIELDS) if brief else list(Plan.model_fields)
    if not tool_first:
        names = [*(n for n in names if n != "selected_tool"), "selected_tool"]
    return names


def plan_model(
    tool_names: Sequence[str],
    *,
    plan_class: type[Plan] = Plan,
    tool_first: bool = True,
    brief: bool = False,
) -> type[BaseModel]:
    """A plan model whose ``selected_tool`` only admits ``tool_names`` and whose strings
    are bounded, so a constrained decoder cannot produce a tool that does not exist.

    Its fields are ``plan_class``'s, in the order a constrained decoder writes them:
    ``Plan``'s (the tool first), with ``tool_first=False`` the tool last, or the plan
    class's ``written_order``. ``brief`` leaves out the summary and the thoughts. Keys
    it does not name are refused."""
    if not tool_names:
        raise ValueError("a plan needs at least one tool name")
    fields: dict[str, Any] = {}
    for name in plan_fields(plan_class, tool_first=tool_first, brief=brief):
        info = plan_class.model_fields[name]
        if name == "selected_tool":
            annotation: Any = Literal[tuple(tool_names)]  # type: ignore[valid-type]
            fields[name] = (annotation, Field(description=info.description))
        else:
            bound = plan_class.max_chars[name]
            fields[name] = (str, Field(description=info.description, max_length=bound))
    # A model of its own, not a subclass: a subclass keeps its base's field order.
    return create_model(
        plan_class.__name__,
        __config__=ConfigDict(extra="forbid"),
        __doc__=plan_class.__doc__,
        **fields,
    )


def plan_token_budget(plan_class: type[Plan] = Plan, *, brief: bool = False) -> int:
    """Tokens that always suffice for a whole plan: every token holds at least one
    character, so the bounded strings plus the JSON around them cannot exceed this."""
    fields = plan_fields(plan_class, brief=brief)
    return sum(plan_class.max_chars.get(name, 0) for name in fields) + 128


def plan_schema(
    tool_names: Sequence[str], *, plan_class: type[Plan] = Plan, tool_first: bool = True
) -> dict[str, Any]:
    """The JSON schema handed to the LLM for a tool set (``selected_tool`` is an enum)."""
    return plan_model(tool_names, plan_class=plan_class, tool_first=tool_first).model_json_schema()


class ScratchpadEntry(BaseModel):
    """One previous (task, result) pair, as the planner sees it."""

    task: str
    tool: str
    result: str


Scratchpad = list[ScratchpadEntry]


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )


class Step(BaseModel):
    """One step: the plan (None when the planner's output was invalid), the observation."""

    index: int
    # Dumped as the class it is, so a planner's own plan fields are stored too.
    plan: SerializeAsAny[Plan] | None = None
    observation: str
    tool_error: bool = False
    invalid_plan: bool = False
    repeated: bool = False  # an identical earlier task: the tool was not run again
    planner_usage: Usage = Field(default_factory=Usage)
    tool_seconds: float = 0.0


TrajectoryStatus = Literal["completed", "max_steps", "error"]


class Request(BaseModel):
    """A user request, optionally labelled for simulation datasets."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    text: str = Field(min_length=1)
    topic: str | None = None
    category: str | None = None
    split: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Trajectory(BaseModel):
    """A whole run of the agent on one request."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    request: Request
    steps: list[Step] = Field(default_factory=list)
    final_answer: str | None = None
    # With status max_steps: an answer written from the results so far, when asked for
    # (Agent(answer_at_limit=True)); it is not the planner's final answer.
    limit_answer: str | None = None
    status: TrajectoryStatus = "error"
    error: str | None = None
    planner: str = ""
    planner_llm: str = ""
    tool_mode: Literal["real", "simulated"] = "real"
    seed: int | None = None
    # The user's date when the run started: planners see it, so "tomorrow" or "this
    # year" resolve, and packaging renders the same date into training prompts. None for
    # trajectories made where the date was not recorded (seed imports).
    today: date | None = None
    started_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None

    @property
    def scratchpad(self) -> Scratchpad:
        return scratchpad_of(self.steps)


def scratchpad_of(steps: Sequence[Step]) -> Scratchpad:
    entries = []
    for step in steps:
        if step.plan is None:
            entries.append(
                ScratchpadEntry(task="(no valid plan)", tool="-", result=step.observation)
            )
        else:
            entries.append(
                ScratchpadEntry(
                    task=step.plan.task, tool=step.plan.selected_tool, result=step.observation
                )
            )
    return entries


class StepRating(BaseModel):
    """A judge's rating of one step, 1 (bad) to 5 (excellent), as in the seed project."""

    task_rating: int = Field(ge=1, le=5, description="Is the task the right next step?")
    tool_rating: int = Field(ge=1, le=5, description="Is the selected tool the right one?")
    result_rating: int = Field(ge=1, le=5, description="Does the result serve the request?")
    explanation: str = Field(max_length=500, description="Why, in one or two sentences.")


class FinalRating(BaseModel):
    final_answer_rating: int = Field(ge=1, le=5, description="Does it answer the request?")
    explanation: str = Field(max_length=500, description="Why, in one or two sentences.")


class Rating(BaseModel):
    """A judge's rating of a trajectory: one ``StepRating`` per step and the final answer's."""

    steps: list[StepRating] = Field(default_factory=list)
    final_answer_rating: int | None = None
    explanation: str = ""
    judge: str = ""


class ChatMessage(BaseModel):
    """One message of a training example, as chat templates take it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class TrainingExample(BaseModel):
    """One row of a packaged dataset (``<split>.prompt_completion.jsonl``): the messages
    a model is sent and the answer it should write.

    ``gba sim package`` writes one per planner step, with what any planner needs to plan
    that step again (``request``, ``scratchpad``, ``today``: ``gba train eval-steps``);
    ``gba sim package-roles`` writes one per tool-role example (``role`` is
    ``TOOL/ROLE``). ``gba train`` reads both the same way.
    """

    model_config = ConfigDict(extra="forbid")

    prompt: list[ChatMessage] = Field(min_length=1)
    completion: list[ChatMessage] = Field(min_length=1)
    # A planner step.
    trajectory_id: str | None = None
    step: int | None = None
    request: str | None = None
    scratchpad: list[ScratchpadEntry] | None = None
    today: date | None = None
    # A tool-role example.
    role: str | None = None
    example_id: str | None = None

    @property
    def target(self) -> str:
        """What the model should write: the last completion message."""
        return self.completion[-1].content

    @property
    def is_planner_step(self) -> bool:
        """Whether the row can be planned again (it carries its request)."""
        return self.request is not None and self.scratchpad is not None

    def expected_tool(self) -> str:
        """The tool a planner step's target plan selects."""
        return str(json.loads(self.target)["selected_tool"])

    def prompt_messages(self) -> list[Message]:
        """The prompt as chat templates and LLM backends take it."""
        return [{"role": m.role, "content": m.content} for m in self.prompt]

    def completion_messages(self) -> list[Message]:
        return [{"role": m.role, "content": m.content} for m in self.completion]

    def messages(self) -> list[Message]:
        """Prompt and completion as one chat."""
        return [*self.prompt_messages(), *self.completion_messages()]

    def to_json(self) -> str:
        """The row as the dataset file holds it: the fields that were given, in order."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), ensure_ascii=False)
