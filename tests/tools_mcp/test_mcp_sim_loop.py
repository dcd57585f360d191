"""The offline loop's first half over an MCP tool set: `gba sim trajectories` runs the
twins derived from a real server's listing, and `gba sim package` puts their steps in
the planner's dataset. The roles are played by a loopback OpenAI-compatible server."""

import json

from click.testing import CliRunner
from mcp_helpers import stdio_table

from gba_core.cli import cli
from gba_core.schema import Request
from gba_core.testing import LoopbackOpenAI, play_agent_roles
from gba_sim.db import RunsDB


def test_trajectories_over_mcp_tools_reach_the_dataset(tmp_path, monkeypatch, fresh_plugins):
    monkeypatch.setenv("GBA_PLUGINS", "mcp,sim")  # the MCP tools and final_answer only
    (tmp_path / "gba.toml").write_text(stdio_table())
    db = tmp_path / "runs.sqlite"
    RunsDB(db).add_requests(
        [Request(id=f"q{i}", text=f"Open a ticket about printer {i}.") for i in range(4)]
    )
    runner = CliRunner()
    with LoopbackOpenAI(play_agent_roles) as server:
        spec = server.spec()
        for args in (
            ["sim", "trajectories", "--db", str(db), "--llm", spec, "--run", "r"],
            ["sim", "rate", "--db", str(db), "--run", "r", "--judge-llm", spec],
            ["sim", "package", "--db", str(db), "--run", "r", "--out", str(tmp_path / "ds"),
             "--val-size", "1"],
        ):  # fmt: skip
            result = runner.invoke(cli, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
        plan_schema = server.bodies[0]["response_format"]["json_schema"]["schema"]
    offered = plan_schema["properties"]["selected_tool"]["enum"]
    assert "tickets_create_ticket" in offered and "final_answer" in offered
    trajectories = RunsDB(db).trajectories("r")
    assert len(trajectories) == 4
    used = {s.plan.selected_tool for t in trajectories for s in t.steps if s.plan}
    assert used - {"final_answer"} and all(
        t.startswith("tickets_") for t in used - {"final_answer"}
    )
    rows = [
        json.loads(line)
        for name in ("train", "validation")
        for line in (tmp_path / "ds" / f"{name}.prompt_completion.jsonl").open()
    ]
    chosen = {json.loads(r["completion"][0]["content"])["selected_tool"] for r in rows}
    assert chosen == used
