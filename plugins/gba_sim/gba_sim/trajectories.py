"""``gba sim trajectories``: the agent with a planner (the teacher by default) over the
simulated tools, for every request not yet done in a run.

Workers run trajectories concurrently; the driver alone writes the database, one
transaction per finished trajectory, so an interrupt loses only trajectories in flight.
Every LLM call goes through the call cache in the same database: a resumed run does not
pay again for calls it already made. A backend failure (after the backend's own
retries) is stored as a ``failed`` item and retried by the next run; trajectories that
end at the step limit or in a tool error keep their status.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from gba_core.errors import LLMError
from gba_core.schema import Request, Trajectory

from .db import RunsDB
from .usage import Meter, MeteredLLM


@dataclass
class RunConfig:
    run_id: str
    planner: str = "teacher"
    planner_spec: str = "llama-cpp:gemma-3-270m"
    simulator_spec: str = "llama-cpp:gemma-3-270m"
    max_steps: int = 10
    seed: int = 0
    workers: int = 1
    allow_unpaired: bool = False
    failure_rates: dict[str, Any] = field(default_factory=dict)


def trajectory_seed(seed: int, request_id: str) -> int:
    """The seed of one trajectory: fixed by the run's seed and the request, whatever the
    order or the worker that runs it."""
    digest = hashlib.sha256(f"{seed}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _models(config: RunConfig, db: RunsDB, meter: Meter) -> tuple[Any, Any]:
    from gba_core.llm import get_llm

    planner = get_llm(config.planner_spec)
    simulator = (
        planner if config.simulator_spec == config.planner_spec else get_llm(config.simulator_spec)
    )
    return (
        MeteredLLM(db.cached(planner), "planner", meter),
        MeteredLLM(db.cached(simulator), "simulator", meter),
    )


def run_trajectories(
    db: RunsDB,
    requests: Iterable[Request],
    config: RunConfig,
    *,
    on_done: Callable[[Trajectory, str], Any] | None = None,
) -> Counter[str]:
    """Generate the missing trajectories of ``config.run_id``; returns counts by status
    of the trajectories made now."""
    from gba_core.agent import Agent
    from gba_core.planners import get_planner
    from gba_core.tools import load_toolset

    tools = load_toolset().for_mode("simulated", allow_unpaired=config.allow_unpaired)
    meter = Meter()
    planner_llm, simulator_llm = _models(config, db, meter)
    # The backends' own specs, not what the user typed: that may carry an api_key option.
    models = {"planner": planner_llm.spec, "simulator": simulator_llm.spec}
    db.ensure_run(
        config.run_id,
        kind="trajectories",
        planner=config.planner,
        models=models,
        seed=config.seed,
        options={"max_steps": config.max_steps, "tools": sorted(tools)},
    )
    db.forget_failed(config.run_id)  # backend failures are retried
    done = db.done_request_ids(config.run_id)
    todo = [r for r in requests if r.id not in done]
    planner = get_planner(config.planner, tools=tools, llm=planner_llm)
    agent = Agent(
        planner,
        tools,
        max_steps=config.max_steps,
        tool_llm=simulator_llm,
        tool_options={"failure_rates": config.failure_rates},
        planner_name=config.planner,
        mode="simulated",
    )

    def work(request: Request) -> tuple[Trajectory, str]:
        seed = trajectory_seed(config.seed, request.id)
        try:
            trajectory = agent.run(request, seed=seed)
            status = trajectory.status
        except LLMError as exc:
            trajectory = Trajectory(
                request=request,
                planner=config.planner,
                seed=seed,
                tool_mode="simulated",
                status="error",
                error=f"LLM backend failed: {exc}",
            )
            status = "failed"
        trajectory.id = f"{config.run_id}:{request.id}"
        return trajectory, status

    counts: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
        pending: set[Future[tuple[Trajectory, str]]] = set()
        queue = iter(todo)
        try:
            while True:
                while len(pending) < max(1, config.workers) and (request := next(queue, None)):
                    pending.add(pool.submit(work, request))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    trajectory, status = future.result()
                    db.save_trajectory(config.run_id, trajectory, status=status)
                    db.add_usage(config.run_id, meter.take())
                    counts[status] += 1
                    if on_done:
                        on_done(trajectory, status)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return counts
