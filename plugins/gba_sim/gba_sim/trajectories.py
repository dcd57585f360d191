"""``gba sim trajectories``: the agent with a planner (the teacher by default) over the
simulated tools, for every request not yet done in a run.

Workers (threads, or Ray tasks: see executor.py) run trajectories concurrently; the
driver alone writes the database, one transaction per finished trajectory, so an
interrupt loses only trajectories in flight.
Every LLM call goes through the call cache in the same database: a resumed run does not
pay again for calls it already made. A backend failure (after the backend's own
retries) is stored as a ``failed`` item and retried by the next run; trajectories that
end at the step limit or in a tool error keep their status.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gba_core.errors import ConfigError, LLMError
from gba_core.schema import Request, Trajectory
from gba_core.secrets import redact

from .db import RunsDB
from .executor import ExecutorConfig, WorkerEnv, run_job
from .usage import CURRENT_TRAJECTORY, Prices, priced


@dataclass
class RunConfig:
    run_id: str
    planner: str = "teacher"
    planner_spec: str = "llama-cpp:gemma-3-270m"
    simulator_spec: str = "llama-cpp:gemma-3-270m"
    max_steps: int = 10
    seed: int = 0
    allow_unpaired: bool = False
    failure_rates: dict[str, Any] = field(default_factory=dict)
    # How final_answer answers in simulation: "llm" writes it from the results with the
    # simulator model; "simple" returns the planner's task as the answer, no call.
    direct_answer: str = "llm"
    # The planner's sampling temperature. Above 0 each trajectory samples with its own
    # seed: repeated runs differ, and each one replays from the cache.
    temperature: float = 0.0
    kind: str = "trajectories"  # or "eval": runs made by gba sim eval


def trajectory_seed(seed: int, request_id: str) -> int:
    """The seed of one trajectory: fixed by the run's seed and the request, whatever the
    order or the worker that runs it."""
    digest = hashlib.sha256(f"{seed}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass
class TrajectoryJob:
    """One run's trajectories as executor work: built in each worker process."""

    config: RunConfig
    tools: list[str]
    backend_specs: list[str]

    def specs(self) -> list[str]:
        return self.backend_specs

    def build(self, env: WorkerEnv) -> Callable[[Request], tuple[Trajectory, str]]:
        from gba_core.agent import Agent
        from gba_core.assembly import build_agent
        from gba_core.tools import ToolOptions

        config = self.config
        tools = _toolset(config)
        if sorted(tools) != self.tools:
            # A cluster node with other plugins would make trajectories the driver's
            # tool set never had.
            raise ConfigError(
                f"this worker has the tools {sorted(tools)}, the run uses {self.tools}:"
                " install the same gba plugins everywhere"
            )
        planner_llm = env.llm(config.planner_spec, "planner")
        simulator_llm = env.llm(config.simulator_spec, "simulator")

        def agent_for(seed: int) -> Agent:
            sampling = {"temperature": config.temperature, "seed": seed}
            return build_agent(
                config.planner,
                tools,
                planner_llm=planner_llm,
                tool_llm=simulator_llm,
                # Planners from plugins may not take sampling options: greedy needs none.
                planner_options=sampling if config.temperature > 0 else None,
                max_steps=config.max_steps,
                tool_options=ToolOptions(
                    failure_rates=config.failure_rates, direct_answer=config.direct_answer
                ),
                mode="simulated",
            )

        def work(request: Request) -> tuple[Trajectory, str]:
            seed = trajectory_seed(config.seed, request.id)
            trajectory_id = f"{config.run_id}:{request.id}"
            token = CURRENT_TRAJECTORY.set(trajectory_id)
            try:
                trajectory = agent_for(seed).run(request, seed=seed)
                status: str = trajectory.status
            except LLMError as exc:
                trajectory = Trajectory(
                    request=request,
                    planner=config.planner,
                    seed=seed,
                    tool_mode="simulated",
                    status="error",
                    error=redact(f"LLM backend failed: {exc}"),
                )
                status = "failed"
            finally:
                CURRENT_TRAJECTORY.reset(token)
            trajectory.id = trajectory_id
            return trajectory, status

        return work


def _toolset(config: RunConfig) -> Any:
    from gba_core.registry import load_toolset

    return load_toolset().for_mode("simulated", allow_unpaired=config.allow_unpaired)


def run_identity(
    config: RunConfig, tools: list[str], planner_model: Any, simulator_model: Any
) -> dict[str, Any]:
    """What the run's trajectories are made with: a resumed run must match it."""
    from gba_core.llm.identity import model_identity
    from gba_core.plugins import list_plugins

    return {
        "planner": model_identity(planner_model),
        "simulator": model_identity(simulator_model),
        "tools": tools,
        "plugins": {p.name: p.version for p in list_plugins() if p.error is None},
        "max_steps": config.max_steps,
        "temperature": config.temperature,
        "failure_rates": config.failure_rates,
        "direct_answer": config.direct_answer,
    }


def refuse_a_changed_resume(
    run_id: str, before: dict[str, Any] | None, now: dict[str, Any]
) -> None:
    """One line naming what changed since the run was made (runs recorded before
    identities were kept have none to compare, and resume as they did)."""
    if before is None or before == now:
        return
    changed = [key for key in now if before.get(key) != now[key]]
    what = "; ".join(f"{key} was {before.get(key)!r}, now {now[key]!r}" for key in changed)
    raise ConfigError(
        f"run {run_id!r} was made otherwise ({what}); resume it as it was, or pass "
        "another --run for a new run"
    )


def run_trajectories(
    db: RunsDB,
    requests: Iterable[Request],
    config: RunConfig,
    *,
    executor: ExecutorConfig | None = None,
    prices: Prices | None = None,
    on_done: Callable[[Trajectory, str, list[dict[str, Any]]], Any] | None = None,
) -> Counter[str]:
    """Generate the missing trajectories of ``config.run_id``; returns counts by status
    of the trajectories made now. ``on_done`` gets each trajectory, its status and the
    usage (tokens, cost) of the calls made meanwhile."""
    from gba_core.registry import get_llm

    executor = executor or ExecutorConfig()
    tools = _toolset(config)
    if unknown := sorted(set(config.failure_rates) - set(tools)):
        raise ConfigError(
            f"failure rates for tools not installed: {', '.join(unknown)};"
            f" the tools are {', '.join(sorted(tools))}"
        )
    # The backends' own specs, not what the user typed: that may carry an api_key
    # option. Making a backend does not load its model.
    planner_model, simulator_model = get_llm(config.planner_spec), get_llm(config.simulator_spec)
    models = {"planner": planner_model.spec, "simulator": simulator_model.spec}
    made_with = run_identity(config, sorted(tools), planner_model, simulator_model)
    if (before := db.run_options(config.run_id)) is not None:
        refuse_a_changed_resume(config.run_id, before.get("identity"), made_with)
    db.ensure_run(
        config.run_id,
        kind=config.kind,
        planner=config.planner,
        models=models,
        seed=config.seed,
        options={
            "max_steps": config.max_steps,
            "tools": sorted(tools),
            "direct_answer": config.direct_answer,
            "temperature": config.temperature,
            "failure_rates": config.failure_rates,
            "identity": made_with,
        },
    )
    db.forget_failed(config.run_id)  # backend failures are retried
    done = db.done_request_ids(config.run_id)
    todo = [r for r in requests if r.id not in done]
    job = TrajectoryJob(config, sorted(tools), sorted(set(models.values())))
    counts: Counter[str] = Counter()
    for item in run_job(job, todo, executor, db):
        trajectory, status = item.result
        usage = priced(item.usage, prices or {})
        db.save_trajectory(config.run_id, trajectory, status=status)
        db.add_usage(config.run_id, usage)
        counts[status] += 1
        if on_done:
            on_done(trajectory, status, usage)
        if executor.budget and executor.budget.charge(usage):
            break  # what is in flight is abandoned; its calls are cached for the rerun
    return counts
