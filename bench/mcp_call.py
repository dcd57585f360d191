"""What an MCP tool call costs over a Python tool: the same lookup as a function gba
calls in process, and as the tool of a real MCP server (the tests' ticket desk,
written with the SDK) over stdio and over streamable HTTP on 127.0.0.1. Arguments are
given, so no LLM runs: the figures are the protocol's and the transport's. Also the
first call, which starts the server (stdio) or opens the session (HTTP).

Run alone: python bench/mcp_call.py [--runs N]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from _common import bench_args, machine, median

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "tools_mcp" / "mcp_server.py"


def lookup(name: str) -> str:
    """The baseline: what the server's env_value tool does, as a Python function."""
    return os.environ.get(name, "(unset)")


def timed(call, runs: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return first, seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    from gba_tools_mcp import client
    from gba_tools_mcp.settings import ServerConfig
    from gba_tools_mcp.tools import render

    args = bench_args(runs=50)
    print(f"# MCP tool call against a Python function ({machine()}, median of {args.runs})")
    _, base = timed(lambda: lookup("HOME"), args.runs)
    base_ms = median(base) * 1000
    print(f"python function        {base_ms:9.4f} ms")

    stdio = ServerConfig(name="desk", command=sys.executable, args=[str(SERVER), "stdio"])
    first, seconds = timed(
        lambda: render(client.call_tool(stdio, "env_value", {"name": "HOME"})), args.runs
    )
    print(f"MCP over stdio         {median(seconds) * 1000:9.2f} ms   first call {first:.2f} s")

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        http = ServerConfig(name="remote", url=f"http://127.0.0.1:{port}/mcp")
        first, seconds = timed(
            lambda: render(client.call_tool(http, "env_value", {"name": "HOME"})), args.runs
        )
        print(f"MCP over HTTP          {median(seconds) * 1000:9.2f} ms   first call {first:.2f} s")
    finally:
        client.close_all()
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
