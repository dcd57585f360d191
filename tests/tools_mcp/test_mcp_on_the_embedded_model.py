"""MCP argument filling on the embedded 270M: whatever it writes under the tool's own
schema ($defs, an enum, a nested object, an integer) is accepted by the real server."""

import json

import pytest
from mcp_helpers import stdio_table

from gba_core.registry import get_llm
from gba_core.tools import ToolContext
from gba_tools_mcp import _listed
from gba_tools_mcp.tools import McpTool, McpToolError

pytestmark = pytest.mark.integration


def test_the_embedded_model_fills_nested_and_enum_arguments_the_server_accepts():
    with open("gba.toml", "w") as f:
        f.write(stdio_table())
    tools = {f"{s.name}_{spec.name}": McpTool(s, spec) for s, spec in _listed()}
    ctx = ToolContext(llm=get_llm("llama-cpp:gemma-3-270m"))
    request = "The printer on floor 2 is on fire! Open an urgent ticket. I'm Ada, ada@example.com."
    created = json.loads(
        tools["tickets_create_ticket"].run(
            request,
            "Open an urgent ticket 'Printer on floor 2 on fire' reported by Ada, ada@example.com.",
            [],
            ctx,
        )
    )
    assert created["priority"] in ("low", "normal", "urgent")
    assert set(created["reporter"]) == {"name", "email"} and created["title"].strip()
    # An integer argument: the server takes it (a wrong number is its error result).
    try:
        shown = tools["tickets_get_ticket"].run(
            "What does ticket 100 say?", "Show ticket 100.", [], ctx
        )
    except McpToolError as exc:
        shown = str(exc)
    assert shown.startswith("Ticket 100: ") or "no ticket" in shown
