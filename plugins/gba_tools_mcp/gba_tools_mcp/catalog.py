"""The tools each MCP server offers, cached on disk with a time-to-live.

Listing a server means starting it (stdio) or a round trip (HTTP); ``gba tools`` and
every run would pay that. The list is kept in ``<cache dir>/mcp_tools.json``, keyed by
a hash of the server's configuration, so a changed command, URL or token asks again. A
server that failed is asked again after ``FAILURE_TTL`` seconds, not at every command.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gba_core.llm.embedded import cache_dir

from . import client
from .settings import ServerConfig

FAILURE_TTL = 30.0


class ToolSpec(BaseModel):
    """What gba keeps of an MCP tool's listing."""

    name: str
    title: str | None = None
    description: str = ""
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None

    @classmethod
    def of(cls, tool: Any) -> ToolSpec:
        return cls(
            name=tool.name,
            title=tool.title,
            description=tool.description or "",
            input_schema=tool.input_schema,
            output_schema=tool.output_schema,
        )


class Listing(BaseModel):
    """A server's tools when it was last asked, or why it could not be."""

    fetched: float
    tools: list[ToolSpec] | None = None
    error: str | None = None

    def fresh(self, ttl: float, now: float) -> bool:
        return now - self.fetched < (ttl if self.error is None else min(ttl, FAILURE_TTL))


def cache_file() -> Path:
    return cache_dir() / "mcp_tools.json"


def fingerprint(server: ServerConfig) -> str:
    # Resolved values included: a new token must not keep the list another one got.
    data = server.model_dump(mode="json") | {
        "env": server.resolved_env(),
        "headers": server.resolved_headers(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _read() -> dict[str, Any]:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, Any]) -> None:
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mcp_tools.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # no cache then: the next command asks the server again


def listing(server: ServerConfig, ttl: float, *, refresh: bool = False) -> Listing:
    """The server's tools, from the cache while fresh, else from the server."""
    key = fingerprint(server)
    now = time.time()
    cached = _read()
    if not refresh and key in cached:
        try:
            found = Listing.model_validate(cached[key])
        except ValidationError:
            found = None
        if found is not None and found.fresh(ttl, now):
            return found
    try:
        result = Listing(fetched=now, tools=[ToolSpec.of(t) for t in client.list_tools(server)])
    except client.McpServerError as exc:
        result = Listing(fetched=now, error=str(exc))
    cached = _read()  # another gba process may have written meanwhile
    cached[key] = result.model_dump(mode="json")
    _write(cached)
    return result
