"""--max-calls-per-minute spaces the calls to a backend across workers; replays from
the cache are not limited."""

import itertools
import time

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_core.testing import LoopbackOpenAI, play_agent_roles
from gba_sim.db import RunsDB


def test_calls_are_spaced_across_workers_and_replays_are_free(tmp_path):
    arrivals = []

    def reply(body):
        arrivals.append(time.monotonic())
        return play_agent_roles(body)

    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests([Request(id=f"q{i}", text=f"Question {i}?") for i in range(3)])
    db.close()
    with LoopbackOpenAI(reply) as server:
        args = ["sim", "trajectories", "--db", str(db_path), "--llm", server.spec(),
                "--workers", "3", "--max-calls-per-minute", "600"]  # fmt: skip
        result = CliRunner().invoke(cli, [*args, "--run", "r"], catch_exceptions=False)
        assert "r: 3 completed" in result.output, result.output
        assert len(arrivals) == 12  # 3 trajectories x (2 plans, 1 twin, 1 answer)
        # 600 a minute: one call every 0.1 s, whatever the 3 workers want. (Single gaps
        # jitter with connection setup; the span and the typical gap do not.)
        gaps = sorted(b - a for a, b in itertools.pairwise(sorted(arrivals)))
        assert arrivals[-1] - arrivals[0] >= 11 * 0.1 * 0.95
        assert gaps[len(gaps) // 2] >= 0.095
        start = time.monotonic()
        replay = CliRunner().invoke(cli, [*args, "--run", "again"], catch_exceptions=False)
        assert "again: 3 completed" in replay.output
        assert len(arrivals) == 12 and time.monotonic() - start < 1.0
