"""Each tool plugin installs alone beside gba-core in a fresh venv and shows its pairs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PLUGINS = {
    "office": (
        "gba_tools_office",
        "gba-tools-office",
        ["ask_user", "calculate_number", "create_event", "send_email", "use_bash"],
    ),
    "search": ("gba_tools_search", "gba-tools-search", ["search_wikipedia", "search_internet"]),
    "mcp": (
        "gba_tools_mcp",
        "gba-tools-mcp",
        [
            f"tickets_{name}"
            for name in ("create_ticket", "get_ticket", "wait", "crash", "env_value")
        ],
    ),
}
# The MCP plugin's tools are those of the servers gba.toml names: the tests' ticket desk,
# run by the fresh venv's Python (which has the SDK through the plugin).
MCP_CONFIG = """[mcp.servers.tickets]
command = "{python}"
args = ["{server}", "stdio"]
"""


def venv_with(tmp_path: Path, *packages: str) -> Path:
    """A fresh venv with ``packages`` installed (from pip's wheel cache where it can)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    install = subprocess.run(
        [*pip, "install", *packages], capture_output=True, text=True, timeout=1800
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


@pytest.mark.parametrize("entry_point", PLUGINS)
def test_a_plugin_installs_beside_gba_core_and_shows_its_pairs(tmp_path, entry_point):
    folder, distribution, tools = PLUGINS[entry_point]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    plugin = ROOT / "plugins" / folder
    steps = [[str(ROOT), str(plugin)]]
    if "sentence-transformers" in (plugin / "pyproject.toml").read_text():
        steps.insert(0, ["torch==2.13.0"])  # the CPU wheel, before anything pulls CUDA's
    for packages in steps:
        install = subprocess.run(
            [*pip, "install", *packages], capture_output=True, text=True, timeout=1800
        )
        assert install.returncode == 0, install.stderr[-3000:]
    gba = str(venv / "bin" / "gba")
    work = tmp_path / "work"
    work.mkdir()
    if entry_point == "mcp":
        server = ROOT / "tests" / "tools_mcp" / "mcp_server.py"
        config = MCP_CONFIG.format(python=venv / "bin" / "python", server=server)
        (work / "gba.toml").write_text(config)
    env = {**os.environ, "GBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [gba, "tools", "--json"], capture_output=True, text=True, check=True, cwd=work, env=env
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert set(rows) == {"final_answer", *tools}
    for name in tools:
        assert rows[name]["real"] and rows[name]["simulated"]
        assert rows[name]["plugin"] == entry_point
        if entry_point == "mcp":
            assert rows[name]["source"] == "tickets"  # `gba tools` names the server
    plugins = subprocess.run(
        [gba, "plugins", "--json"], capture_output=True, text=True, check=True, cwd=work, env=env
    )
    found = next(p for p in json.loads(plugins.stdout) if p["name"] == entry_point)
    assert found["distribution"] == distribution and found["error"] is None


def test_gba_sim_alone_beside_gba_core_simulates_just_final_answer(tmp_path):
    from gba_core.testing import LoopbackOpenAI, play_agent_roles

    venv = venv_with(tmp_path, str(ROOT), str(ROOT / "plugins" / "gba_sim"))
    python = str(venv / "bin" / "python")
    db = tmp_path / "runs.sqlite"
    subprocess.run(
        [python, "-c", "from gba_sim.db import RunsDB; from gba_core.schema import Request;"
         f" RunsDB({str(db)!r}).add_requests([Request(id='q', text='Hello?')])"],
        check=True,
    )  # fmt: skip
    with LoopbackOpenAI(play_agent_roles) as server:
        run = subprocess.run(
            [str(venv / "bin" / "gba"), "sim", "trajectories", "--db", str(db),
             "--llm", server.spec(), "--run", "r"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        plan_schema = server.bodies[0]["response_format"]["json_schema"]["schema"]
    # One tool: pydantic writes the choice as a const.
    assert plan_schema["properties"]["selected_tool"]["const"] == "final_answer"
    assert "r: 1 completed" in run.stdout


def test_the_shipped_planner_installs_alone_without_torch_and_is_the_default(tmp_path):
    venv = venv_with(tmp_path, str(ROOT), str(ROOT / "plugins" / "gba_planner_270m"))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    listed = subprocess.run([*pip, "list", "--format=json"], capture_output=True, text=True)
    assert "torch" not in {p["name"] for p in json.loads(listed.stdout)}
    gba = str(venv / "bin" / "gba")
    out = subprocess.run([gba, "planners", "--json"], capture_output=True, text=True, check=True)
    shown = json.loads(out.stdout)
    assert [s["name"] for s in shown["shipped"]] == ["gemma-3-270m-planner"]
    assert Path(shown["shipped"][0]["adapter"]).is_file()  # the adapter ships in the wheel
    # It drives the planner it was trained for (its manifest says which plan form).
    assert shown["default"]["planner"] == shown["shipped"][0]["planner"]
    assert shown["default"]["planner"] in ("fine-tuned", "fine-tuned-brief")
