"""A ticket desk as an MCP server, for the MCP part of the tutorial: four tools over a
JSON file (``TICKETS_FILE``, default ``tickets.json`` in the working directory).

    python tickets_server.py            # stdio, as gba starts it
    python tickets_server.py http 8765  # streamable HTTP on 127.0.0.1:8765/mcp
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    URGENT = "urgent"


class Ticket(BaseModel):
    id: int
    title: str
    priority: Priority
    status: str = "open"


desk = MCPServer("tickets", version="1.0.0")
FILE = Path(os.environ.get("TICKETS_FILE", "tickets.json"))


def load() -> list[Ticket]:
    if not FILE.exists():
        return []
    return [Ticket.model_validate(t) for t in json.loads(FILE.read_text())]


def save(tickets: list[Ticket]) -> None:
    FILE.write_text(json.dumps([t.model_dump(mode="json") for t in tickets], indent=1))


@desk.tool(description="Open a support ticket with a short title and a priority.")
def create_ticket(title: str, priority: Priority = Priority.NORMAL) -> Ticket:
    tickets = load()
    ticket = Ticket(id=1 + max((t.id for t in tickets), default=0), title=title, priority=priority)
    save([*tickets, ticket])
    return ticket


@desk.tool(description="List the open tickets, most urgent first.")
def list_tickets() -> str:
    order = {Priority.URGENT: 0, Priority.NORMAL: 1, Priority.LOW: 2}
    found = sorted((t for t in load() if t.status == "open"), key=lambda t: order[t.priority])
    if not found:
        return "No open tickets."
    return "\n".join(f"#{t.id} [{t.priority}] {t.title}" for t in found)


@desk.tool(description="Close a ticket by its number.")
def close_ticket(ticket_id: int) -> str:
    tickets = load()
    for ticket in tickets:
        if ticket.id == ticket_id:
            ticket.status = "closed"
            save(tickets)
            return f"Ticket #{ticket_id} closed."
    raise ToolError(f"there is no ticket #{ticket_id}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        desk.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        desk.run()
