import subprocess
import sys

import pytest
from mcp_helpers import SERVER, free_port, wait_for_port

import gba_tools_mcp
from gba_tools_mcp import client


@pytest.fixture(autouse=True)
def mcp_env(tmp_path, monkeypatch):
    """Each test: its own working directory (its own gba.toml), cache and connections."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GBA_MCP_CONFIG", raising=False)
    monkeypatch.delenv("GBA_MCP_CACHE_TTL", raising=False)
    monkeypatch.setenv("GBA_CACHE_DIR", str(tmp_path / "cache"))
    gba_tools_mcp._warned.clear()  # each test sees its own warnings
    yield tmp_path
    client.close_all()


@pytest.fixture
def http_server():
    """The ticket desk over streamable HTTP on 127.0.0.1; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for_port(port, 30):
        proc.kill()
        pytest.fail("the HTTP MCP server did not start")
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)
