import json

import pytest

from gba_core.errors import ConfigError
from gba_core.secrets import redact
from gba_tools_mcp import settings


def write(text: str) -> None:
    with open("gba.toml", "w") as f:
        f.write(text)


def test_servers_from_gba_toml_and_a_json_file_with_toml_winning(tmp_path, monkeypatch):
    (tmp_path / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "File-Tools": {"command": "files-server", "args": ["--root", "/srv"]},
                    "crm": {"url": "http://json.example/mcp"},
                }
            }
        )
    )
    write(
        '[mcp]\nconfig = "mcp.json"\ncache_ttl = 5\n'
        '[mcp.servers.crm]\nurl = "http://toml.example/mcp"\ntimeout = 7\n'
    )
    found = settings.load()
    by_name = {s.name: s for s in found.servers}
    assert set(by_name) == {"file_tools", "crm"}  # JSON names become lower_snake_case
    assert by_name["file_tools"].transport == "stdio"
    assert by_name["file_tools"].args == ["--root", "/srv"]
    assert by_name["crm"].url == "http://toml.example/mcp" and by_name["crm"].timeout == 7
    assert found.cache_ttl == 5


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[mcp.servers.a]\nargs = ["x"]\n', "give either command"),
        ('[mcp.servers.a]\ncommand = "x"\nurl = "http://y"\n', "give either command"),
        ('[mcp.servers.a]\ncommand = "x"\ntimeout = -1\n', "timeout"),
        ('[mcp.servers.a]\ncommand = "x"\ncolour = "red"\n', "colour"),
        ('[mcp.servers.a]\nurl = "http://y"\ntype = "sse"\n', "SSE is not supported"),
        ('[mcp]\ncache_ttl = "soon"\n', "cache_ttl"),
    ],
)
def test_a_bad_server_table_is_one_line_naming_it(table, message):
    write(table)
    with pytest.raises(ConfigError) as info:
        settings.load()
    text = str(info.value)
    assert message in text and "\n" not in text


def test_a_missing_json_file_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("GBA_MCP_CONFIG", str(tmp_path / "absent.json"))
    with pytest.raises(ConfigError, match="cannot read the MCP server file"):
        settings.load()


def test_variables_come_from_the_environment_and_become_secrets(monkeypatch):
    monkeypatch.setenv("TICKETS_TOKEN", "tk-0123456789abcdef")
    write(
        '[mcp.servers.desk]\nurl = "http://127.0.0.1:1/mcp"\n'
        'headers = { Authorization = "Bearer ${TICKETS_TOKEN}" }\n'
    )
    (server,) = settings.load().servers
    assert server.resolved_headers() == {"Authorization": "Bearer tk-0123456789abcdef"}
    assert "tk-0123456789abcdef" not in redact("the server said: bad token tk-0123456789abcdef")


def test_an_unset_variable_is_named(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    write('[mcp.servers.desk]\ncommand = "x"\nenv = { KEY = "${NOT_SET_ANYWHERE}" }\n')
    (server,) = settings.load().servers
    with pytest.raises(ConfigError, match=r"desk\.env\.KEY: \$\{NOT_SET_ANYWHERE\} is not set"):
        server.resolved_env()
