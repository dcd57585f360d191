"""`--executor ray` on a local Ray cluster started by the test: the same trajectories and
ratings as the thread pool, resumable from the cache, the database written by the
driver alone."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gba_core.schema import Request
from gba_core.testing import LoopbackOpenAI, play_agent_roles
from gba_sim.db import RunsDB

pytest.importorskip("ray")

# Ray reads these when imported, so the drivers run as child processes too. Ray's
# switch for loopback-only clusters keeps every address on 127.0.0.1; token
# authentication stays on, and a driver must name the mode to send the token.
RAY_ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}

HOLDER = textwrap.dedent(
    """
    import signal, sys, ray
    context = ray.init(
        num_cpus=2, include_dashboard=False, logging_level="ERROR"
    )
    print(context.address_info["gcs_address"], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (ray.shutdown(), sys.exit(0)))
    signal.pause()
    """
)


@pytest.fixture(scope="module")
def ray_address():
    """A Ray cluster of its own in a child process; stopped with the child."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        address = holder.stdout.readline().strip()
        assert address, "the Ray holder did not start"
        yield address
    finally:
        holder.terminate()
        holder.wait(timeout=60)


def sim(*args):
    """`gba sim ARGS` in a child process: (exit code, output)."""
    gba = str(Path(sys.executable).with_name("gba"))
    done = subprocess.run(
        [gba, "sim", *args], capture_output=True, text=True, env=RAY_ENV, timeout=600
    )
    return done.returncode, done.stdout + done.stderr


def make_db(path):
    db = RunsDB(path)
    db.add_requests([Request(id=f"q{i}", text=f"Question {i}?") for i in range(4)])
    db.close()
    return str(path)


def test_ray_matches_the_thread_pool_and_resumes_from_the_cache(tmp_path, ray_address):
    with LoopbackOpenAI(play_agent_roles) as server:
        spec = server.spec()
        exported = {}
        for kind in ("thread", "ray"):
            db = make_db(tmp_path / f"{kind}.sqlite")
            extra = ["--executor", kind, "--workers", "2"]
            if kind == "ray":
                extra += ["--ray-address", ray_address]
            code, out = sim("trajectories", "--db", db, "--llm", spec, "--run", "r", *extra)
            assert code == 0 and "r: 4 completed" in out, out
            code, out = sim("rate", "--db", db, "--run", "r", "--judge-llm", spec, *extra)
            assert code == 0 and "rated 4 trajectories" in out, out
            sim("export", "--db", db, "--run", "r", "--out", str(tmp_path / kind))
            exported[kind] = {
                p.relative_to(tmp_path / kind): p.read_bytes()
                for p in sorted((tmp_path / kind).rglob("*.json"))
            }
        assert len(exported["ray"]) == 8  # 4 trajectories, 4 ratings
        assert exported["ray"] == exported["thread"]

        # The Ray workers' calls reached the driver's cache: a new run with the same
        # seeds on Ray replays every call.
        calls = len(server.bodies)
        code, out = sim(
            "trajectories", "--db", str(tmp_path / "ray.sqlite"), "--llm", spec,
            "--run", "r2", "--executor", "ray", "--ray-address", ray_address,
        )  # fmt: skip
        assert code == 0 and "r2: 4 completed" in out, out
        assert len(server.bodies) == calls
        # eval: both runs and their ratings on one Ray connection.
        code, out = sim(
            "eval", "--db", str(tmp_path / "ray.sqlite"), "--planner", "teacher",
            "--planner-llm", spec, "--simulator-llm", spec, "--judge-llm", spec,
            "--runs", "2", "--json", str(tmp_path / "eval.json"),
            "--executor", "ray", "--ray-address", ray_address, "--workers", "2",
        )  # fmt: skip
        assert code == 0, out
    summary = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    # play_agent_roles always finishes in two steps and the judge gives 4s.
    assert summary["completion_rate"]["values"] == [1.0, 1.0]
    assert summary["pass_rate"]["values"] == [1.0, 1.0]
    assert summary["steps"]["mean"] == 2.0
    db = RunsDB(tmp_path / "ray.sqlite")
    usage = {row["run"]: row for row in db.status()["runs"]}
    assert usage["r"]["calls"] > 0 and usage["r"]["cached_calls"] == 0
    assert usage["r2"]["calls"] == usage["r2"]["cached_calls"] > 0
    db.close()


def test_an_unreachable_ray_cluster_is_a_clear_error(tmp_path):
    db = make_db(tmp_path / "runs.sqlite")
    code, out = sim(
        "trajectories", "--db", db, "--llm", "openai:x?base_url=http://127.0.0.1:9/v1",
        "--executor", "ray", "--ray-address", "127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert "cannot connect to Ray at 127.0.0.1:9" in out
