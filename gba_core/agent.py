"""The agent loop: plan, look up the tool, run it, append (task, result), repeat."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from gba_core.errors import ConfigError, InvalidOutputError, LLMError
from gba_core.llm.base import LLM, degenerate
from gba_core.planners import Planner
from gba_core.schema import Request, Scratchpad, Step, Trajectory, Usage, scratchpad_of
from gba_core.secrets import redact
from gba_core.tools import Tool, ToolContext, ToolMode, ToolOptions
from gba_core.tracing import span

FINAL_ANSWER = "final_answer"
LIMIT_TASK = (
    "The step limit is reached: answer as well as the results so far allow, and say "
    "what is still missing."
)
StepCallback = Callable[[Step], None]


class Agent:
    """``Agent(planner, tools, max_steps=10).run(request) -> Trajectory``.

    ``tool_llm`` is handed to tools through their ``ToolContext`` (the simulator LLM
    when the tools are simulated twins). A tool that raises becomes an error observation
    the planner can react to. A failing LLM backend (unreachable endpoint, bad key,
    retries exhausted) is not a trajectory outcome: ``LLMError`` propagates, so nothing
    is recorded as a failure of the planner; only output that does not fit its schema
    (``InvalidOutputError``) is part of a trajectory.

    With ``answer_at_limit``, a run that reaches ``max_steps`` still gets an answer
    written by ``final_answer`` from the results so far, kept apart from the planner's
    own final answer (``Trajectory.limit_answer``; the status stays ``max_steps``).
    """

    def __init__(
        self,
        planner: Planner,
        tools: Mapping[str, Tool],
        *,
        max_steps: int = 10,
        tool_llm: LLM | None = None,
        tool_options: ToolOptions | None = None,
        interactive: bool = False,
        on_step: StepCallback | None = None,
        planner_name: str = "",
        mode: ToolMode = "real",
        answer_at_limit: bool = False,
        tracer: Any | None = None,
    ) -> None:
        if max_steps < 1:
            raise ConfigError("max_steps must be at least 1")
        if FINAL_ANSWER not in tools:
            raise ConfigError(
                f"the tool set has no {FINAL_ANSWER!r} tool (is core.final_answer disabled?)"
            )
        self.planner = planner
        self.tools = dict(tools)
        self.max_steps = max_steps
        self.tool_llm = tool_llm or planner.llm
        self.tool_options = tool_options or ToolOptions()
        self.interactive = interactive
        self.on_step = on_step
        self.planner_name = planner_name or type(planner).__name__
        self.mode = mode
        self.answer_at_limit = answer_at_limit
        # An OpenTelemetry tracer (``gba_core.tracing``), or None: no spans at all.
        self.tracer = tracer

    def run(
        self, request: str | Request, *, seed: int | None = None, today: date | None = None
    ) -> Trajectory:
        """Answer ``request``. ``today`` is the user's date (default: the local date)."""
        if isinstance(request, str):
            request = Request(text=request)
        with span(
            self.tracer,
            "invoke_agent gba",
            **{
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "gba",
                "gba.planner": self.planner_name,
                "gba.request.id": request.id,
                "gba.tool_mode": self.mode,
            },
        ) as current:
            trajectory = self._run(request, seed, today)
            if current is not None:
                current.set_attribute("gba.status", trajectory.status)
                current.set_attribute("gba.steps", len(trajectory.steps))
            return trajectory

    def _run(self, request: Request, seed: int | None, today: date | None) -> Trajectory:
        trajectory = Trajectory(
            request=request,
            planner=self.planner_name,
            planner_llm=getattr(self.planner.llm, "spec", ""),
            tool_mode=self.mode,
            seed=seed,
            today=today or date.today(),
        )
        ctx = ToolContext(
            llm=self.tool_llm,
            rng=random.Random(seed),
            options=self.tool_options,
            interactive=self.interactive,
            today=trajectory.today,
        )
        try:
            for index in range(self.max_steps):
                with span(self.tracer, f"step {index + 1}", **{"gba.step.index": index}):
                    step = self._step(index, request.text, trajectory, ctx)
                trajectory.steps.append(step)
                if self.on_step:
                    self.on_step(step)
                if step.plan and step.plan.selected_tool == FINAL_ANSWER and not step.tool_error:
                    trajectory.final_answer = step.observation
                    trajectory.status = "completed"
                    break
            else:
                trajectory.status = "max_steps"
                if self.answer_at_limit:
                    trajectory.limit_answer = self._limit_answer(request.text, trajectory, ctx)
        except LLMError:
            raise
        except Exception as exc:
            trajectory.status = "error"
            trajectory.error = redact(f"{type(exc).__name__}: {exc}")
        trajectory.finished_at = datetime.now(UTC)
        return trajectory

    def _limit_answer(self, request: str, trajectory: Trajectory, ctx: ToolContext) -> str | None:
        answer = self.tools[FINAL_ANSWER].run(
            request, LIMIT_TASK, scratchpad_of(trajectory.steps), ctx
        )
        if not degenerate(answer) and answer.strip() != LIMIT_TASK:
            return answer
        # Nothing usable (empty, looping, or the built-in final_answer's fallback to its
        # task, which here is an instruction): the latest result is the best there is.
        for step in reversed(trajectory.steps):
            if step.plan and not step.tool_error and not step.repeated:
                return step.observation
        return None

    def _step(self, index: int, request: str, trajectory: Trajectory, ctx: ToolContext) -> Step:
        scratchpad = scratchpad_of(trajectory.steps)
        started = time.perf_counter()
        try:
            with span(
                self.tracer, f"plan {self.planner_name}", **{"gba.planner": self.planner_name}
            ):
                result = self.planner.plan(request, scratchpad, today=trajectory.today)
        except InvalidOutputError as exc:
            return Step(
                index=index,
                observation=f"Invalid plan: {exc}",
                invalid_plan=True,
                planner_usage=Usage(seconds=time.perf_counter() - started),
            )
        completion = result.completion
        usage = Usage(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            seconds=completion.seconds,
        )
        plan = result.plan
        tool = self.tools.get(plan.selected_tool)
        started = time.perf_counter()
        error = False
        earlier = _same_task_done(trajectory.steps, plan.selected_tool, plan.task)
        if earlier is not None:
            # Tools act on the world: a repeated identical task (a second identical email,
            # a duplicate event) is not run again; the planner is pointed at the result.
            observation = (
                f"Not run again: step {earlier.index + 1} already did this task with "
                f"{plan.selected_tool}. Its result: {earlier.observation} "
                "Choose a different task, or final_answer."
            )
            return Step(
                index=index,
                plan=plan,
                observation=observation,
                repeated=True,
                planner_usage=usage,
                tool_seconds=0.0,
            )
        if tool is None:
            observation, error = f"Error: there is no tool named {plan.selected_tool!r}.", True
        else:
            with span(
                self.tracer,
                f"execute_tool {tool.name}",
                **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool.name},
            ) as current:
                observation, error = self._run_tool(tool, request, plan.task, scratchpad, ctx)
                if current is not None:
                    current.set_attribute("gba.tool.error", error)
        return Step(
            index=index,
            plan=plan,
            observation=observation,
            tool_error=error,
            planner_usage=usage,
            tool_seconds=time.perf_counter() - started,
        )

    @staticmethod
    def _run_tool(
        tool: Tool, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext
    ) -> tuple[str, bool]:
        """The tool's observation, and whether it is an error."""
        try:
            return tool.run(request, task, scratchpad, ctx), False
        except InvalidOutputError as exc:  # e.g. arguments that do not validate
            return f"Error from {tool.name}: {exc}", True
        except LLMError:
            raise
        except Exception as exc:
            return f"Error from {tool.name}: {type(exc).__name__}: {exc}", True


def _same_task_done(steps: list[Step], tool: str, task: str) -> Step | None:
    """An earlier successful step that ran ``tool`` on the same task (case and spacing
    aside)."""
    key = " ".join(task.lower().split())
    for step in steps:
        if (
            step.plan is not None
            and not step.tool_error
            and not step.repeated
            and step.plan.selected_tool == tool
            and " ".join(step.plan.task.lower().split()) == key
        ):
            return step
    return None
