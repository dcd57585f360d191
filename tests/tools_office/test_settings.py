"""A bad [office] value stops gba at start, in one line."""

import pytest
from click.testing import CliRunner

from gba_core.cli import cli


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GBA_SMTP_SECURITY", "tls", "setting smtp_security: 'tls' is not one of starttls"),
        ("GBA_SMTP_PORT", "twenty-five", "setting smtp_port: 'twenty-five' is not a number"),
        ("GBA_SANDBOX_MEMORY_MB", "lots", "setting sandbox_memory_mb: 'lots' is not a number"),
        ("GBA_SANDBOX_WALL_SECONDS", "0", "setting sandbox_wall_seconds: must be more than 0"),
    ],
)
def test_a_bad_office_setting_fails_every_command_at_start(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    for args in (["tools"], ["run", "hi", "--llm", "scripted:never-called"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and message in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
