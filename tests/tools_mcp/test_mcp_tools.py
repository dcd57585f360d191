"""MCP tools against real servers written with the SDK (tests/tools_mcp/mcp_server.py),
over stdio and streamable HTTP on 127.0.0.1, with the scripted LLM filling arguments."""

import json
import time

import pytest
from mcp_helpers import stdio_table

from gba_core.llm.scripted import ScriptedLLM
from gba_core.registry import load_toolset
from gba_core.schema import ScratchpadEntry
from gba_core.testing import check_tool_pair
from gba_core.tools import ToolContext, ToolOptions
from gba_tools_mcp import _listed, catalog, client, settings
from gba_tools_mcp.tools import McpTool, McpToolError, SimulatedMcpTool

NAMES = {
    "tickets_create_ticket",
    "tickets_get_ticket",
    "tickets_wait",
    "tickets_crash",
    "tickets_env_value",
}


def write(text: str) -> None:
    with open("gba.toml", "w") as f:
        f.write(text)


def tools_by_name() -> dict[str, McpTool]:
    return {f"{s.name}_{spec.name}": McpTool(s, spec) for s, spec in _listed()}


def run(tool: McpTool, arguments: dict, task: str = "Do it.") -> str:
    llm = ScriptedLLM([arguments])
    return tool.run("A request.", task, [], ToolContext(llm=llm))


@pytest.fixture
def stdio_tools(fresh_plugins) -> dict[str, McpTool]:
    write(stdio_table(timeout="3"))
    return tools_by_name()


# A new ticket's arguments as the decoder writes them: an enum and a nested object.
TICKET = {
    "title": "Printer on fire",
    "priority": "urgent",
    "reporter": {"name": "Ada", "email": "ada@example.com"},
}


def test_a_stdio_server_s_tools_are_gba_tools_prefixed_by_the_server(stdio_tools, fresh_plugins):
    assert set(stdio_tools) == NAMES
    toolset = load_toolset()
    assert set(toolset.real) >= NAMES and set(toolset.simulated) >= NAMES
    assert toolset.origins[("tickets_get_ticket", "real")] == "mcp"
    assert toolset.real["tickets_get_ticket"].description == "Show one ticket by its number."


def test_nested_and_enum_arguments_are_filled_under_the_input_schema(stdio_tools):
    tool = stdio_tools["tickets_create_ticket"]
    arguments = dict(TICKET)
    llm = ScriptedLLM([arguments])
    observation = tool.run(
        "Open an urgent ticket: the printer is on fire. I'm Ada, ada@example.com.",
        "Open an urgent ticket 'Printer on fire' reported by Ada (ada@example.com).",
        [],
        ToolContext(llm=llm),
    )
    (call,) = llm.calls
    # The decoder is handed the server's own schema, $defs and enum included.
    assert call.schema["$defs"]["Priority"]["enum"] == ["low", "normal", "urgent"]
    assert "Printer on fire" in call.prompt
    assert json.loads(observation) == {"id": 100, **arguments}
    # The server kept it: the next call, on the same server process, reads it back.
    assert run(stdio_tools["tickets_get_ticket"], {"ticket_id": 100}) == (
        "Ticket 100: Printer on fire (urgent)"
    )


def test_an_error_result_is_an_error_observation(stdio_tools, scripted_llm):
    from gba_core.agent import Agent

    with pytest.raises(McpToolError, match="no ticket 7"):
        run(stdio_tools["tickets_get_ticket"], {"ticket_id": 7})
    # In the agent the step is a tool error the planner sees.
    from gba_core.testing import plan_answer

    scripted_llm.add(
        plan_answer("tickets_get_ticket", "Show ticket 7."),
        {"ticket_id": 7},
        plan_answer("final_answer", "Tell the user ticket 7 does not exist."),
        "Ticket 7 does not exist.",
    )
    tools = {
        "tickets_get_ticket": stdio_tools["tickets_get_ticket"],
        "final_answer": load_toolset().real["final_answer"],
    }
    from gba_core.assembly import build_agent

    agent: Agent = build_agent("zero-shot", tools, planner_llm=scripted_llm, tool_llm=scripted_llm)
    trajectory = agent.run("What does ticket 7 say?")
    step = trajectory.steps[0]
    assert step.tool_error and "no ticket 7" in step.observation
    assert trajectory.final_answer == "Ticket 7 does not exist."


def test_a_slow_tool_times_out_in_one_line(stdio_tools):
    started = time.monotonic()
    with pytest.raises(client.McpServerError) as info:
        run(stdio_tools["tickets_wait"], {"seconds": 30})
    assert time.monotonic() - started < 15
    assert "timed out" in str(info.value) and "\n" not in str(info.value)


def test_a_server_that_dies_mid_run_fails_the_call_and_is_started_again(stdio_tools):
    with pytest.raises(client.McpServerError, match="closed the connection"):
        run(stdio_tools["tickets_crash"], {})
    # The next call starts a new server process.
    assert run(stdio_tools["tickets_env_value"], {"name": "HOME"}) != "(unset)"


def test_a_stdio_server_sees_only_the_environment_it_is_given(monkeypatch, fresh_plugins):
    monkeypatch.setenv("GBA_PARENT_SECRET", "parent-secret-value")
    monkeypatch.setenv("DESK_TOKEN", "desk-token-value")
    write(stdio_table(env='{ DESK_KEY = "${DESK_TOKEN}" }'))
    tool = tools_by_name()["tickets_env_value"]
    assert run(tool, {"name": "GBA_PARENT_SECRET"}) == "(unset)"
    # What the server returns passes through redaction like every observation.
    assert run(tool, {"name": "DESK_KEY"}) == "***"


def test_a_streamable_http_server(http_server, fresh_plugins):
    write(f'[mcp.servers.remote_desk]\nurl = "{http_server}"\nheaders = {{ X-Team = "blue" }}\n')
    tools = tools_by_name()
    assert {name.removeprefix("remote_desk_") for name in tools} == {
        n.removeprefix("tickets_") for n in NAMES
    }
    arguments = {
        "title": "VPN down",
        "priority": "normal",
        "reporter": {"name": "Bo", "email": "b@x.org"},
    }
    assert json.loads(run(tools["remote_desk_create_ticket"], arguments))["title"] == "VPN down"
    with pytest.raises(McpToolError, match="no ticket 5"):
        run(tools["remote_desk_get_ticket"], {"ticket_id": 5})


def test_tool_lists_are_cached_until_their_time_runs_out(stdio_tools, monkeypatch):
    asked: list[str] = []
    real_list = client.list_tools

    def counting(server):
        asked.append(server.name)
        return real_list(server)

    monkeypatch.setattr(client, "list_tools", counting)
    assert set(tools_by_name()) == NAMES and asked == []  # the fixture's listing is cached
    write(stdio_table(timeout="3") + "[mcp]\ncache_ttl = 0\n")
    assert set(tools_by_name()) == NAMES and asked == ["tickets"]


def test_a_broken_server_leaves_its_tools_out_with_one_warning(capsys, monkeypatch, fresh_plugins):
    write(stdio_table() + '[mcp.servers.gone]\ncommand = "/nonexistent/mcp-server"\n')
    toolset = load_toolset()
    assert set(toolset.real) >= NAMES
    assert not [name for name in toolset.real if name.startswith("gone_")]
    err = capsys.readouterr().err
    assert "MCP server 'gone' (/nonexistent/mcp-server): cannot start it" in err
    assert err.count("\n") == 1
    # The failure is cached briefly: the next command does not try the server again.
    asked: list[str] = []
    monkeypatch.setattr(client, "list_tools", lambda server: asked.append(server.name) or [])
    listing = catalog.listing(next(s for s in settings.load().servers if s.name == "gone"), 3600)
    assert listing.error and listing.tools is None and asked == []


def test_a_schema_the_decoder_cannot_follow_makes_the_tool_unavailable(stdio_tools):
    spec = catalog.ToolSpec(
        name="odd",
        description="Takes a value that is not a string.",
        input_schema={"type": "object", "properties": {"v": {"not": {"type": "string"}}}},
    )
    server = settings.load().servers[0]
    tool = McpTool(server, spec)
    reason = tool.unavailable(interactive=False, options=ToolOptions())
    assert reason and "'not' keyword (at v)" in reason
    with pytest.raises(McpToolError, match="tickets_odd: its input schema uses the 'not'"):
        run(tool, {"v": 1})


def test_twins_are_derived_from_the_listing(stdio_tools):
    for server, spec in _listed():
        real, twin = McpTool(server, spec), SimulatedMcpTool(server, spec)
        check_tool_pair(real, twin)
    twin = SimulatedMcpTool(*_listed()[0])
    llm = ScriptedLLM(default='{"id": 1}')
    scratchpad = [ScratchpadEntry(task="t", tool="x", result="r")]
    twin.run("Open a ticket.", "Open a ticket 'Broken chair'.", scratchpad, ToolContext(llm=llm))
    prompt = llm.calls[0].prompt
    assert '"urgent"' in prompt and "structured result follows this JSON schema" in prompt
    failing = ScriptedLLM(default="Error: unknown reporter")
    twin.failure_rate = 1.0
    twin.run("r", "t", [], ToolContext(llm=failing))
    assert "This time the tool fails" in failing.calls[0].prompt


def test_arguments_on_the_openai_backend_follow_the_server_s_schema(stdio_tools):
    from gba_core.registry import get_llm
    from gba_core.testing import LoopbackOpenAI

    arguments = {
        "title": "Desk lamp",
        "priority": "low",
        "reporter": {"name": "Li", "email": "li@x.org"},
    }
    with LoopbackOpenAI(lambda body: json.dumps(arguments)) as server:
        ctx = ToolContext(llm=get_llm(server.spec()))
        created = stdio_tools["tickets_create_ticket"].run("r", "Open a ticket.", [], ctx)
        sent = server.bodies[0]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["priority"] == {"$ref": "#/$defs/Priority"}
    assert sent["$defs"]["Priority"]["enum"] == ["low", "normal", "urgent"]
    assert json.loads(created)["reporter"] == {"name": "Li", "email": "li@x.org"}


def test_a_tool_without_arguments_is_called_without_asking_the_model(stdio_tools):
    llm = ScriptedLLM()  # any call would fail: the script is empty
    out = stdio_tools["tickets_crash"].fill_arguments(
        "r", "Stop the desk.", [], ToolContext(llm=llm)
    )
    assert out == {} and not llm.calls


def test_a_server_that_fails_its_start_is_named_with_its_last_words(fresh_plugins, capsys):
    import sys

    write(
        "[mcp.servers.picky]\n"
        f'command = "{sys.executable}"\n'
        """args = ["-c", "import sys; sys.exit('picky: TICKETS_TOKEN is missing')"]\n"""
        "timeout = 5\n"
    )
    assert tools_by_name() == {}
    err = capsys.readouterr().err
    assert "MCP server 'picky'" in err and "TICKETS_TOKEN is missing" in err
    assert err.count("\n") == 1  # one line


def test_respelling_as_the_task_writes_never_breaks_the_schema(stdio_tools):
    tool = stdio_tools["tickets_create_ticket"]
    arguments = dict(TICKET)
    task = "Open an URGENT ticket 'PRINTER ON FIRE' for ADA@Example.com."
    filled = tool.fill_arguments("r", task, [], ToolContext(llm=ScriptedLLM([arguments])))
    assert filled["priority"] == "urgent"  # "URGENT" is no value of the enum
    created = json.loads(tool.run("r", task, [], ToolContext(llm=ScriptedLLM([arguments]))))
    assert created["priority"] == "urgent"


def test_one_bad_server_or_tool_never_costs_the_others(monkeypatch, capsys, fresh_plugins):
    monkeypatch.delenv("NEVER_SET_TOKEN", raising=False)
    write(
        stdio_table()
        + '[mcp.servers.locked]\ncommand = "x"\nenv = { TOKEN = "${NEVER_SET_TOKEN}" }\n'
    )
    assert set(tools_by_name()) == NAMES
    assert "MCP server 'locked'" in capsys.readouterr().err
    server = settings.load().servers[0]
    dangling = catalog.ToolSpec(
        name="odd",
        description="Refers to a definition it lacks.",
        input_schema={"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
    )
    reason = McpTool(server, dangling).unavailable(interactive=False, options=ToolOptions())
    assert reason and "cannot be read" in reason


def test_plain_env_values_are_not_masked(fresh_plugins):
    write(stdio_table(env='{ MODE = "production", API_KEY = "plain-key-12345" }'))
    tool = tools_by_name()["tickets_env_value"]
    assert run(tool, {"name": "MODE"}) == "production"
    assert run(tool, {"name": "API_KEY"}) == "***"  # a key named like a credential
