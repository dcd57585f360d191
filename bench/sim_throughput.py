"""Trajectory throughput of `gba sim trajectories` against a remote-like model.

An OpenAI-compatible server on loopback answers every call after a fixed delay (the
latency of a remote model), playing planner, twins and final answer for the installed
tools (gba_core.testing.play_agent_roles). The same requests run with 1, 4 and 16
workers into fresh runs, then a resumed run with the same seeds that every call
replays from the cache. Prints medians over REPEATS and the speed-ups against one
worker measured in the same process.

    ../.venv/bin/python sim_throughput.py [--delay 0.25] [--requests 48] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from gba_core.schema import Request
from gba_core.testing import LoopbackOpenAI, play_agent_roles
from gba_sim.db import RunsDB
from gba_sim.executor import ExecutorConfig
from gba_sim.trajectories import RunConfig, run_trajectories


def timed_run(db: RunsDB, requests: list[Request], spec: str, run_id: str, workers: int) -> float:
    config = RunConfig(run_id=run_id, planner_spec=spec, simulator_spec=spec, max_steps=4)
    start = time.perf_counter()
    counts = run_trajectories(db, requests, config, executor=ExecutorConfig(workers=workers))
    elapsed = time.perf_counter() - start
    assert counts["completed"] == len(requests), counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.25, help="seconds per call")
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    requests = [Request(id=f"q{i}", text=f"Plan task number {i}.") for i in range(args.requests)]
    rows: dict[int, list[float]] = {1: [], 4: [], 16: []}
    resumed: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LoopbackOpenAI(play_agent_roles, delay=args.delay) as server,
    ):
        for repeat in range(args.repeats):
            db = RunsDB(Path(tmp) / f"runs{repeat}.sqlite")
            db.add_requests(requests)
            for workers in rows:
                # Each worker count gets its own model name, so nothing is cached.
                run_spec = server.spec(f"m{repeat}-w{workers}")
                rows[workers].append(timed_run(db, requests, run_spec, f"w{workers}", workers))
            calls = len(server.bodies)
            resumed.append(timed_run(db, requests, server.spec(f"m{repeat}-w16"), "resumed", 16))
            assert len(server.bodies) == calls, "the resumed run called the model"
            db.close()
    calls_per_trajectory = 4
    serial = statistics.median(rows[1])
    print(
        f"{args.requests} trajectories x {calls_per_trajectory} calls, {args.delay} s per"
        f" call, median of {args.repeats}"
    )
    print(f"{'workers':>8} {'seconds':>9} {'traj/s':>8} {'speed-up':>9} {'/workers':>9}")
    for workers, times in rows.items():
        median = statistics.median(times)
        speedup = serial / median
        print(
            f"{workers:>8} {median:>9.2f} {args.requests / median:>8.1f}"
            f" {speedup:>9.2f} {speedup / workers:>9.2f}"
        )
    print(
        f"resumed, fully cached: {statistics.median(resumed):.2f} s for {args.requests}"
        " trajectories, 0 LLM calls"
    )


if __name__ == "__main__":
    main()
