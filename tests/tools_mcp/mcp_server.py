"""A real MCP server for the tests, written with the SDK: a small ticket desk.

    python mcp_server.py stdio
    python mcp_server.py http PORT

Tools: nested and enum arguments (create_ticket, structured result), an error result
(get_ticket on an unknown id), a slow tool (wait), one that kills the server (crash),
and one that reports an environment variable (env_value), so a test can see what
environment the server was given.
"""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    URGENT = "urgent"


class Reporter(BaseModel):
    name: str
    email: str


class Ticket(BaseModel):
    id: int
    title: str
    priority: Priority
    reporter: Reporter


server = MCPServer("tickets", version="1.0.0")
TICKETS: dict[int, Ticket] = {}


@server.tool(description="Open a support ticket with a title, a priority and who reported it.")
def create_ticket(title: str, priority: Priority, reporter: Reporter) -> Ticket:
    ticket = Ticket(id=100 + len(TICKETS), title=title, priority=priority, reporter=reporter)
    TICKETS[ticket.id] = ticket
    return ticket


@server.tool(description="Show one ticket by its number.")
def get_ticket(ticket_id: int) -> str:
    if ticket_id not in TICKETS:
        raise ToolError(f"no ticket {ticket_id}")
    ticket = TICKETS[ticket_id]
    return f"Ticket {ticket.id}: {ticket.title} ({ticket.priority.value})"


@server.tool(description="Wait a number of seconds, reporting progress.")
async def wait(seconds: float, ctx: Context) -> str:
    steps = max(1, int(seconds * 4))
    for i in range(steps):
        await ctx.report_progress(i + 1, steps)
        time.sleep(seconds / steps)
    return f"waited {seconds} s"


@server.tool(description="Stop the ticket desk at once.")
def crash() -> str:
    os._exit(3)


@server.tool(description="The value of an environment variable of the server.")
def env_value(name: str = Field(description="the variable")) -> str:
    return os.environ.get(name, "(unset)")


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        print("tickets server starting", file=sys.stderr)
        server.run()
