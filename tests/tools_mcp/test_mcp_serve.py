"""`gba serve mcp` answered by the SDK's MCP client, over stdio and streamable HTTP on
127.0.0.1. The agent's roles are played by a loopback OpenAI-compatible server; the
server runs with the built-in tools only, so its planner answers at once."""

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp_helpers import free_port, wait_for_port

from gba_core import hookimpl
from gba_core.testing import LoopbackOpenAI, play_agent_roles
from gba_core.tools import Tool

GBA = str(Path(sys.executable).with_name("gba"))


def server_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GBA_PLUGINS": "mcp",  # final_answer and no MCP server: nothing else to call
        "GBA_CACHE_DIR": str(tmp_path / "cache"),
    }


async def ask(client, request: str, progress: list | None = None):
    async def note(done, total, message):
        if progress is not None:
            progress.append((done, total, message))

    return await client.call_tool("run_agent", {"request": request}, progress_callback=note)


def test_an_mcp_client_gets_the_answer_the_trajectory_and_progress_over_stdio(tmp_path):
    from mcp import Client, StdioServerParameters

    with LoopbackOpenAI(play_agent_roles) as llm:
        params = StdioServerParameters(
            command=GBA,
            args=["serve", "mcp", "--llm", llm.spec(), "--max-request-chars", "200"],
            env=server_env(tmp_path),
            cwd=tmp_path,
        )

        async def session():
            async with Client(params, read_timeout_seconds=120) as client:
                listed = [t.name for t in (await client.list_tools()).tools]
                progress: list = []
                answered = await ask(client, "What is the capital of Peru?", progress)
                too_long = await ask(client, "x" * 201)
                return listed, answered, progress, too_long

        listed, answered, progress, too_long = anyio.run(session)
    assert listed == ["run_agent"]  # no --tools: the agent alone
    assert not answered.is_error
    result = answered.structured_content
    assert result["status"] == "completed"
    assert result["answer"].startswith("RESULT-")
    assert [s["tool"] for s in result["steps"]] == ["final_answer"]
    assert progress and progress[0][0] == 1 and "final_answer" in progress[0][2]
    assert too_long.is_error and "at most 200 characters" in too_long.content[0].text


def test_serve_mcp_over_http_with_the_tools_and_a_clear_error_for_bad_input(tmp_path):
    from mcp import Client

    port = free_port()
    with LoopbackOpenAI(play_agent_roles) as llm:
        proc = subprocess.Popen(
            [GBA, "serve", "mcp", "--transport", "http", "--port", str(port),
             "--llm", llm.spec()],
            env=server_env(tmp_path), cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            if not wait_for_port(port, 60):
                pytest.fail(f"gba serve mcp did not start: {proc.stderr.read()}")

            async def session():
                async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as c:
                    listed = [t.name for t in (await c.list_tools()).tools]
                    answered = await ask(c, "Say hello.")
                    empty = await ask(c, "   ")
                    missing = await c.call_tool("run_agent", {})
                    return listed, answered, empty, missing

            listed, answered, empty, missing = anyio.run(session)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert listed == ["run_agent"]
    assert answered.structured_content["status"] == "completed"
    assert empty.is_error and "the request is empty" in empty.content[0].text
    assert missing.is_error and "request" in missing.content[0].text


class LookupFact(Tool):
    name = "lookup_fact"
    description = "Look up a fact."

    def run(self, request, task, scratchpad, ctx):
        return f"FACT for {task!r}"


class LookupPlugin:
    @hookimpl
    def register_tools(self, register):
        register(LookupFact())


def test_tools_offers_each_real_tool_but_never_use_bash_unless_allowed(
    register_plugin, scripted_backend
):
    from mcp import Client

    from gba_tools_mcp.serve import AgentService, build_server

    register_plugin(LookupPlugin(), "lookup-plugin")

    def tools_of(allow_bash: bool) -> tuple[list[str], object]:
        service = AgentService(
            planner="zero-shot", llm="scripted:test", max_steps=3, max_seconds=60,
            allow_bash=allow_bash,
        )  # fmt: skip
        server = build_server(service, expose_tools=True, max_request_chars=100)

        async def session():
            async with Client(server) as client:
                listed = [t.name for t in (await client.list_tools()).tools]
                called = await client.call_tool("lookup_fact", {"task": "Find the fact."})
                return listed, called

        return anyio.run(session)

    listed, called = tools_of(allow_bash=False)
    assert {"run_agent", "lookup_fact"} <= set(listed)
    assert "use_bash" not in listed and "final_answer" not in listed
    assert called.content[0].text == "FACT for 'Find the fact.'"
    assert "use_bash" in tools_of(allow_bash=True)[0]


def test_a_failing_model_backend_is_the_client_s_error_in_one_line(
    register_plugin, scripted_backend
):
    from mcp import Client

    from gba_core.errors import LLMUnavailableError
    from gba_tools_mcp.serve import AgentService, build_server

    scripted_backend.default = LLMUnavailableError("cannot reach the model at 127.0.0.1:9")
    service = AgentService(
        planner="zero-shot", llm="scripted:test", max_steps=2, max_seconds=60, allow_bash=False
    )
    server = build_server(service, expose_tools=False, max_request_chars=100)

    async def session():
        async with Client(server) as client:
            return await client.call_tool("run_agent", {"request": "Hello?"})

    result = anyio.run(session)
    assert result.is_error
    assert "cannot reach the model at 127.0.0.1:9" in result.content[0].text
