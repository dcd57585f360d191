"""``gba serve mcp``: the gba agent as an MCP server, so any MCP client can use a
fine-tuned gba agent.

It offers one tool, ``run_agent``: the agent answers a request with the planner and
models chosen as ``gba run`` chooses them, and returns the answer and the trajectory as
structured content. Each step goes out as an MCP progress notification. With ``--tools``
the installed real tools are offered as well, one MCP tool each (a task in plain words,
as the planner would write it). ``use_bash`` is never offered unless ``--allow-bash``.

Requests are bounded: at most ``--max-request-chars`` characters (a longer one is the
client's error, in one line) and ``--max-seconds`` seconds (checked between steps: the
run stops with an error rather than hold the client). Runs share the models, one at a
time.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, which
# are built per server (the request's length bound) and must be objects, not strings.
import threading
import time
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
import click
from pydantic import BaseModel, Field

from gba_core.agent import FINAL_ANSWER
from gba_core.assembly import build_agent, choose_models
from gba_core.errors import GbaError
from gba_core.registry import load_toolset
from gba_core.schema import Step
from gba_core.secrets import redact
from gba_core.tools import Tool, ToolContext, ToolOptions, offered_tools

MAX_REQUEST_CHARS = 4000


class StepOut(BaseModel):
    tool: str | None
    task: str | None
    observation: str
    error: bool


class AgentAnswer(BaseModel):
    """What ``run_agent`` returns: the answer (or why there is none) and every step."""

    status: str = Field(description="completed, max_steps or error")
    answer: str | None
    error: str | None = None
    steps: list[StepOut]


def _step_out(step: Step) -> StepOut:
    return StepOut(
        tool=step.plan.selected_tool if step.plan else None,
        task=step.plan.task if step.plan else None,
        observation=step.observation,
        error=step.tool_error or step.plan is None,
    )


class AgentService:
    """The models and tools, loaded once; runs one request at a time."""

    def __init__(
        self,
        *,
        planner: str | None,
        llm: str | None,
        max_steps: int,
        planner_llm: str | None = None,
        tool_llm: str | None = None,
        max_seconds: float,
        allow_bash: bool,
    ) -> None:
        self.options = ToolOptions(allow_bash=allow_bash)
        installed = load_toolset().real
        # Nobody is at a terminal to answer ask_user or confirm a command.
        self.tools, _ = offered_tools(installed, interactive=False, options=self.options)
        choices = {"default": llm, "planner": planner_llm, "tool": tool_llm}
        models = choose_models(planner, choices, installed)
        self.note = models.note
        self.planner = models.planner
        self.planner_llm, self.tool_llm = models.load()
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self._lock = threading.Lock()

    def answer(self, request: str, on_step: Any = None) -> AgentAnswer:
        deadline = time.monotonic() + self.max_seconds

        def step_done(step: Step) -> None:
            if on_step is not None:
                on_step(step)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the request ran past its {self.max_seconds:g} seconds")

        with self._lock:
            agent = build_agent(
                self.planner,
                self.tools,
                planner_llm=self.planner_llm,
                tool_llm=self.tool_llm,
                max_steps=self.max_steps,
                tool_options=self.options,
                answer_at_limit=True,
                on_step=step_done,
            )
            trajectory = agent.run(request.strip())
        answer = trajectory.final_answer or trajectory.limit_answer
        return AgentAnswer(
            status=trajectory.status,
            answer=answer,
            error=trajectory.error,
            steps=[_step_out(s) for s in trajectory.steps],
        )

    def run_tool(self, tool: Tool, task: str, request: str | None) -> str:
        ctx = ToolContext(llm=self.tool_llm, options=self.options)
        with self._lock:
            return tool.run(request or task, task, [], ctx)


def build_server(service: AgentService, *, expose_tools: bool, max_request_chars: int) -> Any:
    """The MCP server (the SDK's ``MCPServer``) over ``service``."""
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(
        "gba",
        instructions="A gba agent: run_agent answers a request in plain words with its tools.",
    )
    Request = Annotated[
        str, Field(min_length=1, max_length=max_request_chars, description="the request")
    ]

    @server.tool(
        description="Answer a request with the gba agent: it plans, runs its tools and "
        "returns the answer with every step it took."
    )
    async def run_agent(request: Request, ctx: Context) -> AgentAnswer:
        if not request.strip():
            raise ToolError("the request is empty")
        limit = service.max_steps

        def progress(step: Step) -> None:
            tool = step.plan.selected_tool if step.plan else "invalid plan"
            message = f"step {step.index + 1}: {tool}"
            anyio.from_thread.run(ctx.report_progress, step.index + 1, limit, message)

        try:
            return await anyio.to_thread.run_sync(service.answer, request, progress)
        except GbaError as exc:  # the model's backend failed: the client gets why, in one line
            raise ToolError(redact(str(exc))) from None

    if expose_tools:
        for name, tool in service.tools.items():
            if name == FINAL_ANSWER:
                continue
            _expose(server, service, tool, max_request_chars, ToolError)
    return server


def _expose(server: Any, service: AgentService, tool: Tool, limit: int, error: type) -> None:
    Task = Annotated[
        str, Field(min_length=1, max_length=limit, description="what to do, in plain words")
    ]

    Context = Annotated[
        str | None, Field(max_length=limit, description="the user's request, if any")
    ]

    async def call(task: Task, request: Context = None) -> str:
        try:
            return await anyio.to_thread.run_sync(service.run_tool, tool, task, request)
        except Exception as exc:  # the tool's own failure, as the client's error result
            raise error(redact(f"{type(exc).__name__}: {exc}")) from None

    server.add_tool(call, name=tool.name, description=tool.description)


@click.group()
def serve() -> None:
    """Serve gba to other programs: `gba serve mcp` runs the agent as an MCP server."""


@serve.command("mcp")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a client that starts gba; http for streamable HTTP on --host/--port.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--tools", "expose_tools", is_flag=True, help="Offer each real tool as well.")
@click.option("--allow-bash", is_flag=True, help="Let the agent (and --tools) run use_bash.")
@click.option("--planner", default=None, help="A planner name (default: as `gba run`).")
@click.option("--llm", default=None, help="The model spec for every role.")
@click.option("--planner-llm", default=None, help="The planner's model spec.")
@click.option("--tool-llm", default=None, help="The tools' model spec.")
@click.option("--max-steps", type=click.IntRange(1, 50), default=8, show_default=True)
@click.option("--max-seconds", type=click.FloatRange(min=1), default=300, show_default=True)
@click.option(
    "--max-request-chars", type=click.IntRange(1), default=MAX_REQUEST_CHARS, show_default=True
)
def serve_mcp(
    transport: str,
    host: str,
    port: int,
    expose_tools: bool,
    allow_bash: bool,
    planner: str | None,
    llm: str | None,
    planner_llm: str | None,
    tool_llm: str | None,
    max_steps: int,
    max_seconds: float,
    max_request_chars: int,
) -> None:
    """Run the gba agent as an MCP server (stdio or streamable HTTP at /mcp)."""
    service = AgentService(
        planner=planner,
        llm=llm,
        planner_llm=planner_llm,
        tool_llm=tool_llm,
        max_steps=max_steps,
        max_seconds=max_seconds,
        allow_bash=allow_bash,
    )
    if service.note:
        click.echo(service.note, err=True)
    server = build_server(service, expose_tools=expose_tools, max_request_chars=max_request_chars)
    if transport == "http":
        click.echo(f"gba MCP server on http://{host}:{port}/mcp", err=True)
        server.run(transport="streamable-http", host=host, port=port)
    else:
        server.run()
