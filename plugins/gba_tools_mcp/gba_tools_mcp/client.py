"""Calls to MCP servers from gba's synchronous agent loop.

The SDK is async. Each server gets one connection, opened on first use and kept: an
event loop in a background thread (anyio's blocking portal) holds the session, so a
stdio server is started once per gba process, not once per call. A connection that
breaks (the server died) is dropped and the next call starts it again. Every failure
reaches the caller as ``McpServerError``, one line, with secrets masked.
"""

from __future__ import annotations

import atexit
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager, suppress
from typing import Any, TextIO, TypeVar, cast

from gba_core.errors import GbaError
from gba_core.secrets import redact

from .settings import ServerConfig

T = TypeVar("T")

# Seconds to open an HTTP connection (a call's own limit is the server's ``timeout``,
# which also bounds the handshake).
CONNECT_TIMEOUT = 20.0
_STDERR_TAIL = 300


class McpServerError(GbaError):
    """An MCP server could not be started or reached, or a call to it failed.
    ``broken``: the connection is gone (closed, timed out, transport failure), so the
    next call opens a new one; a JSON-RPC error from a live server leaves it open."""

    def __init__(self, message: str, *, broken: bool = True) -> None:
        super().__init__(message)
        self.broken = broken


def _leaf(exc: BaseException) -> BaseException:
    # anyio task groups wrap what escapes them in (nested) exception groups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def connection_lost(exc: BaseException) -> bool:
    """Whether the failure leaves no usable connection (closed, timed out, transport)."""
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

    exc = _leaf(exc)
    return not isinstance(exc, MCPError) or exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT)


def describe(exc: BaseException) -> str:
    """One line for a failure of the SDK or the transport."""
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

    exc = _leaf(exc)
    if isinstance(exc, MCPError):
        if exc.code == REQUEST_TIMEOUT:
            return "timed out"
        if exc.code == CONNECTION_CLOSED:
            return "the server closed the connection"
        return f"MCP error {exc.code}: {exc.message}"
    if isinstance(exc, TimeoutError):  # an OSError too: before the OSError branch
        return "timed out"
    if isinstance(exc, FileNotFoundError):
        return f"cannot start it: {exc.filename or exc} not found"
    if isinstance(exc, OSError):
        return f"cannot start it: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@asynccontextmanager
async def _session(server: ServerConfig, errlog: TextIO) -> AsyncIterator[Any]:
    from mcp import Client

    if server.url:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        timeout = httpx2.Timeout(CONNECT_TIMEOUT, read=server.timeout)
        async with httpx2.AsyncClient(headers=server.resolved_headers(), timeout=timeout) as http:
            transport = streamable_http_client(server.url, http_client=http)
            async with Client(transport, read_timeout_seconds=server.timeout) as client:
                yield client
    else:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=server.command or "",
            args=list(server.args),
            env=server.resolved_env(),
            cwd=server.cwd,
        )
        async with Client(
            stdio_client(params, errlog=errlog), read_timeout_seconds=server.timeout
        ) as client:
            yield client


class Connection:
    """One open session with one server."""

    def __init__(self, server: ServerConfig) -> None:
        import anyio.from_thread

        self.server = server
        self._stack = ExitStack()
        # The server's stderr, for the reason it gives when it fails to start.
        errlog = tempfile.TemporaryFile("w+")  # noqa: SIM115 - the exit stack closes it
        self._errlog = cast(TextIO, self._stack.enter_context(errlog))
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        try:
            self.client = self._stack.enter_context(
                self._portal.wrap_async_context_manager(_session(server, self._errlog))
            )
        except Exception as exc:
            reason = self._failure(exc, stderr=True)
            self.close()
            raise McpServerError(reason) from None

    def _last_words(self) -> str:
        try:
            self._errlog.flush()
            self._errlog.buffer.seek(0, 2)
            size = self._errlog.buffer.tell()
            self._errlog.buffer.seek(max(0, size - 4096))
            # Whatever the server wrote, in whatever encoding: never a decode error here.
            text = self._errlog.buffer.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:_STDERR_TAIL] if lines else ""

    def _failure(self, exc: BaseException, *, stderr: bool) -> str:
        reason = describe(exc)
        # Why a server would not start or died: its own last line says.
        if stderr and (words := self._last_words()):
            reason += f" (its last words: {words})"
        return redact(f"MCP server {self.server.name!r} ({self.server.where()}): {reason}")

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return self._portal.call(lambda: func(*args, **kwargs))
        except Exception as exc:
            lost = connection_lost(exc)
            closed = lost and describe(exc) != "timed out"
            message = self._failure(exc, stderr=closed)
            raise McpServerError(message, broken=lost) from None

    def close(self) -> None:
        # A server that died already must not take gba with it on the way out.
        with suppress(Exception):
            self._stack.close()


# Keyed by the whole configuration: a server whose settings changed gets a new one.
_connections: dict[str, Connection] = {}
_lock = threading.Lock()


def connection(server: ServerConfig) -> Connection:
    key = server.model_dump_json()
    with _lock:
        found = _connections.get(key)
    if found is not None:
        return found
    # Started outside the lock: a slow server must not hold up the others. Two threads
    # that start the same one keep the first and close the second.
    made = Connection(server)
    with _lock:
        kept = _connections.setdefault(key, made)
    if kept is not made:
        made.close()
    return kept


def drop(server: ServerConfig, conn: Connection) -> None:
    """Close ``conn`` and forget it, if it is still the server's connection; the next
    call opens a new one."""
    key = server.model_dump_json()
    with _lock:
        if _connections.get(key) is conn:
            del _connections[key]
    conn.close()


@atexit.register
def close_all() -> None:
    with _lock:
        found = list(_connections.values())
        _connections.clear()
    for conn in found:
        conn.close()


def list_tools(server: ServerConfig) -> list[Any]:
    """Every tool the server offers (all pages)."""
    conn = connection(server)
    tools: list[Any] = []
    cursor: str | None = None
    try:
        while True:
            page = conn.call(conn.client.list_tools, cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools
    except McpServerError as exc:
        if exc.broken:
            drop(server, conn)
        raise


def call_tool(server: ServerConfig, name: str, arguments: dict[str, Any]) -> Any:
    """The server's ``CallToolResult``. A broken connection is dropped, so the next call
    starts the server again."""
    conn = connection(server)
    try:
        return conn.call(conn.client.call_tool, name, arguments)
    except McpServerError as exc:
        if exc.broken:
            drop(server, conn)
        raise
