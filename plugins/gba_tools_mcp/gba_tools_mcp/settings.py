"""Which MCP servers gba uses, read from the ``[mcp]`` table of gba.toml and from an
``mcpServers`` JSON file (the format MCP clients share), and how long their tool lists
are cached.

    [mcp]
    cache_ttl = 3600            # seconds a server's tool list is kept; 0: always ask
    config = "mcp.json"         # optional: servers from an {"mcpServers": {...}} file

    [mcp.servers.tickets]       # a stdio server: gba starts it
    command = "python"
    args = ["-m", "tickets_server"]
    env = { TICKETS_TOKEN = "${TICKETS_TOKEN}" }

    [mcp.servers.crm]           # a streamable-HTTP server
    url = "https://crm.example.com/mcp"
    headers = { Authorization = "Bearer ${CRM_TOKEN}" }

``GBA_MCP_CONFIG`` names the JSON file instead of ``config``. ``${VAR}`` is taken from
gba's environment when the server is started, so tokens need not sit in the file. A
stdio server sees only the variables its ``env`` gives it (and the SDK's few defaults:
HOME, PATH, USER ...), never gba's whole environment. What ``${VAR}`` brings in, and the
value of a key named like a credential, are secrets: masked in every error, log and
stored trajectory.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gba_core.config import config_path, load_file_config, warn_unknown_keys
from gba_core.errors import ConfigError
from gba_core.secrets import remember

SERVER_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TTL = 3600.0


class ServerConfig(BaseModel):
    """One MCP server: a command gba starts (stdio) or a URL (streamable HTTP)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(60.0, gt=0, description="seconds a call may take")
    # The JSON format's "type" ("stdio", "http", "streamable-http"): only checked.
    type: str | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if not SERVER_NAME.match(self.name):
            raise ValueError("the name must be lower_snake_case: it prefixes the tool names")
        if bool(self.command) == bool(self.url):
            raise ValueError("give either command (a stdio server) or url (streamable HTTP)")
        if self.type and self.type not in ("stdio", "http", "streamable-http", "streamable_http"):
            raise ValueError(f"type {self.type!r} is not stdio or http (SSE is not supported)")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def resolved_env(self) -> dict[str, str]:
        """``env`` with ``${VAR}`` filled from gba's environment (see ``_expand``)."""
        return {key: _expand(value, f"{self.name}.env.{key}") for key, value in self.env.items()}

    def resolved_headers(self) -> dict[str, str]:
        return {
            key: _expand(value, f"{self.name}.headers.{key}") for key, value in self.headers.items()
        }

    def where(self) -> str:
        """The server as a person recognises it, with no secret in it: a URL without its
        user, password and query; a command's arguments are shown, so keep tokens in
        ``env`` (``${VAR}``), not in ``args``."""
        if self.url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{host}{port}{parts.path}"
        return " ".join([self.command or "", *self.args]).strip()


def snake(text: str) -> str:
    """``text`` as lower_snake_case: "getWeather" -> "get_weather", "my-server" ->
    "my_server"."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# Keys whose values are credentials even when written into the file as they are.
_SECRET_KEY = re.compile(r"auth|token|key|secret|password|passwd|cookie|credential", re.I)


def _expand(value: str, key: str) -> str:
    """``value`` with ``${VAR}`` filled in. What came from the environment is a secret, and
    so is the whole value of a key named like a credential ("Authorization", "API_KEY");
    plain values ("production", "application/json") are not, or they would be masked in
    every observation."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"MCP server setting {key}: ${{{name}}} is not set")
        remember(os.environ[name])
        return os.environ[name]

    expanded = _VARIABLE.sub(one, value)
    if _SECRET_KEY.search(key.rsplit(".", 1)[-1]):
        remember(expanded)
    return expanded


class McpSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    servers: tuple[ServerConfig, ...] = ()
    cache_ttl: float = DEFAULT_TTL


def _servers_from_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the MCP server file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f'{path}: expected {{"mcpServers": {{name: server, ...}}}}')
    return servers


def _server(name: str, table: Any, source: str) -> ServerConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: MCP server {name!r} must be a table")
    try:
        return ServerConfig(name=snake(name), **table)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        what = f"{field}: " if field else ""
        raise ConfigError(
            f"{source}: MCP server {name!r}: {what}{first['msg'].removeprefix('Value error, ')}"
        ) from None


def load() -> McpSettings:
    """The configured servers, JSON file first, then gba.toml's tables (which win on a
    name both define)."""
    table = load_file_config().get("mcp", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path()}: [mcp] must be a table")
    warn_unknown_keys("mcp", table, ("servers", "cache_ttl", "config"))
    raw: dict[str, tuple[Any, str]] = {}
    json_file = os.environ.get("GBA_MCP_CONFIG") or table.get("config")
    if json_file:
        path = Path(str(json_file)).expanduser()
        if not path.is_absolute() and "GBA_MCP_CONFIG" not in os.environ:
            path = config_path().parent / path
        raw |= {name: (value, str(path)) for name, value in _servers_from_json(path).items()}
    servers = table.get("servers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{config_path()}: [mcp.servers] must hold one table per server")
    raw |= {name: (value, f"{config_path()} [mcp.servers]") for name, value in servers.items()}
    ttl: Any = os.environ.get("GBA_MCP_CACHE_TTL", table.get("cache_ttl", DEFAULT_TTL))
    try:
        cache_ttl = float(ttl)
    except (TypeError, ValueError):
        raise ConfigError(f"setting mcp.cache_ttl: {ttl!r} is not a number") from None
    return McpSettings(
        servers=tuple(_server(name, value, source) for name, (value, source) in raw.items()),
        cache_ttl=cache_ttl,
    )
