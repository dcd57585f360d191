"""Helpers the MCP tests share."""

import socket
import sys
import time
from pathlib import Path

SERVER = Path(__file__).with_name("mcp_server.py")


def stdio_table(name: str = "tickets", **extra: str) -> str:
    lines = [
        f"[mcp.servers.{name}]",
        f'command = "{sys.executable}"',
        f'args = ["{SERVER}", "stdio"]',
    ]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, seconds: float) -> bool:
    """Whether something listens on 127.0.0.1:``port`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False
