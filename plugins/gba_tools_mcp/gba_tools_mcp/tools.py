"""MCP tools as gba tools, and their simulated twins derived from the listing.

A real ``McpTool`` fills the tool's arguments from the task through schema-guided output
against its ``inputSchema`` (the tool LLM can only write JSON the schema allows), calls
the server and renders the result as the observation. Its twin plays the tool from its
name, description and schemas, with the failure injection every twin has.
"""

from __future__ import annotations

import json
from typing import Any

from gba_core.llm.grammar import UnsupportedSchemaError, json_schema_to_gbnf
from gba_core.roles import ToolRole
from gba_core.schema import Scratchpad
from gba_core.secrets import redact
from gba_core.tools import SimulatedTool, Tool, ToolContext, ToolOptions, as_written

from . import client
from .catalog import ToolSpec
from .settings import ServerConfig, snake

# The planner reads the observation at every later step: a long result is cut here.
MAX_OBSERVATION_CHARS = 4000
# Descriptions are shown to the zero-shot planner for every tool at every step.
MAX_DESCRIPTION_CHARS = 400


class McpToolError(Exception):
    """The server ran the tool and reported an error (``isError``)."""


def gba_name(server: ServerConfig, tool: str) -> str:
    """The stable gba name of a server's tool: the server's configured name, then the
    tool's, in lower_snake_case ("tickets", "createTicket" -> "tickets_create_ticket")."""
    return f"{server.name}_{snake(tool)}"


def short_description(spec: ToolSpec) -> str:
    text = (spec.description or spec.title or spec.name).strip()
    first = text.split("\n\n", 1)[0].replace("\n", " ").strip()
    if len(first) > MAX_DESCRIPTION_CHARS:
        first = first[: MAX_DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return first


def arguments_schema(spec: ToolSpec) -> dict[str, Any]:
    """The input schema as the decoder is given it: an object, whatever the server left
    out ("type" missing, no properties)."""
    schema = dict(spec.input_schema) or {"type": "object"}
    schema.setdefault("type", "object")
    return schema


def schema_problem(spec: ToolSpec) -> str | None:
    """Why the tool's arguments cannot be written under its schema, or None."""
    try:
        json_schema_to_gbnf(arguments_schema(spec))
    except UnsupportedSchemaError as exc:
        return f"its input schema uses {exc}, which gba's schema-guided output does not support"
    except Exception as exc:  # a broken schema (a $ref to nowhere) is the server's bug
        return f"its input schema cannot be read ({type(exc).__name__}: {exc})"
    return None


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        return f"[resource {resource.uri} ({resource.mime_type or 'binary'})]"
    if kind == "resource_link":
        return f"[resource {block.uri}]"
    if kind in ("image", "audio"):
        return f"[{kind} ({block.mime_type}), {len(block.data) * 3 // 4} bytes]"
    return f"[{kind or 'unknown'} content]"


def render(result: Any) -> str:
    """The observation for a ``CallToolResult``: its text content, else its structured
    content as JSON; an error result raises ``McpToolError`` with its text."""
    texts = [_block_text(block) for block in result.content]
    text = "\n".join(t for t in texts if t.strip())
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    text = redact(text.strip())
    if result.is_error:
        raise McpToolError(text or "the tool failed and said nothing more")
    if len(text) > MAX_OBSERVATION_CHARS:
        text = text[:MAX_OBSERVATION_CHARS] + " … (cut)"
    return text or "(no content)"


def _keep_as_written(value: Any, sources: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return as_written(value, *sources)
    if isinstance(value, dict):
        return {k: _keep_as_written(v, sources) for k, v in value.items()}
    if isinstance(value, list):
        return [_keep_as_written(v, sources) for v in value]
    return value


class McpTool(Tool):
    """One tool of one MCP server."""

    def __init__(self, server: ServerConfig, spec: ToolSpec) -> None:
        self.server = server
        self.spec = spec
        self.name = gba_name(server, spec.name)
        self.description = short_description(spec)
        self.source = server.name
        self.problem = schema_problem(spec)
        schema = arguments_schema(spec)
        self.role_schema = schema
        self.role = ToolRole(
            "arguments",
            "function_tool.j2",
            schema=schema,
            max_tokens=512,
            variables={"name": self.name, "description": self.description},
        )
        self.roles = (self.role,)

    def unavailable(self, *, interactive: bool, options: ToolOptions) -> str | None:
        return self.problem

    def fill_arguments(
        self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext
    ) -> dict[str, Any]:
        if self.problem:
            raise McpToolError(f"{self.name}: {self.problem}")
        if not self.role_schema.get("properties"):
            # A tool that takes no arguments: nothing for the model to write, and an open
            # object would let it write on to its token limit.
            return {}
        answer = self.role.ask(ctx, request=request, task=task, scratchpad=scratchpad)
        if not isinstance(answer, dict):
            raise McpToolError(f"{self.name}: the arguments are not a JSON object")
        sources = (task, request, *(entry.result for entry in scratchpad))
        kept = dict(_keep_as_written(answer, sources))
        # Respelt as the task spells it ("URGENT" for an enum's "urgent") a value may no
        # longer fit the schema the decoder kept it to: then the decoder's answer stands.
        return kept if kept == answer or self._valid(kept) else dict(answer)

    def _valid(self, arguments: dict[str, Any]) -> bool:
        import jsonschema

        try:
            return bool(
                jsonschema.validators.validator_for(self.role_schema)(self.role_schema).is_valid(
                    arguments
                )
            )
        except jsonschema.exceptions.SchemaError:
            return False

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        arguments = self.fill_arguments(request, task, scratchpad, ctx)
        return render(client.call_tool(self.server, self.spec.name, arguments))


class SimulatedMcpTool(SimulatedTool):
    """The twin of an MCP tool, derived from its listing alone."""

    template = "simulated_mcp.j2"
    template_package = "gba_tools_mcp"

    def __init__(self, server: ServerConfig, spec: ToolSpec) -> None:
        super().__init__(gba_name(server, spec.name), short_description(spec))
        self.spec = spec
        self.source = server.name

    def template_variables(self) -> dict[str, Any]:
        output = self.spec.output_schema
        return {
            "full_description": self.spec.description or self.description,
            "arguments": json.dumps(arguments_schema(self.spec), ensure_ascii=False),
            "output_schema": json.dumps(output, ensure_ascii=False) if output else "",
        }
