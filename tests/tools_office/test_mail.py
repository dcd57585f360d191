"""send_email against an aiosmtpd server on 127.0.0.1, and the Maildir default."""

import json
import mailbox
import socket
from email import message_from_bytes
from email.policy import default

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.llm.scripted import ScriptedLLM
from gba_core.testing import plan_answer
from gba_core.tools import ToolContext
from gba_tools_office.mail import send_email_tool

MAIL = {
    "recipient": "michael@example.com",
    "subject": "Winter Games",
    "body": "Shall we watch the Winter Games on TV on February 8, 2026?",
}


def send(arguments):
    llm = ScriptedLLM([arguments])
    return send_email_tool.run("r", "Invite Michael", [], ToolContext(llm=llm))


@pytest.fixture
def smtp_server(monkeypatch):
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("GBA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GBA_SMTP_PORT", str(port))
    monkeypatch.setenv("GBA_SMTP_SECURITY", "none")
    monkeypatch.setenv("GBA_EMAIL_FROM", "agent@example.org")
    yield handler
    controller.stop()


def test_the_message_arrives_with_headers_and_body(smtp_server):
    out = send(MAIL)
    assert out.startswith("Email sent to michael@example.com")
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["michael@example.com"]
    message = message_from_bytes(envelope.content, policy=default)
    assert message["From"] == "agent@example.org"
    assert message["To"] == "michael@example.com"
    assert message["Subject"] == "Winter Games"
    assert message["Message-ID"] and message["Date"]
    assert message.get_content().strip() == MAIL["body"]


def test_a_bad_address_is_an_error_observation(smtp_server):
    out = send({**MAIL, "recipient": "michael at example"})
    assert out.startswith("Error:") and "not a valid email address" in out
    assert smtp_server.envelopes == []


def test_without_smtp_the_maildir_outbox_keeps_the_message(office_env):
    out = send(MAIL)
    assert "saved in the outbox" in out
    (message,) = mailbox.Maildir(office_env / "outbox", create=False)
    assert message["To"] == "michael@example.com" and message["Subject"] == "Winter Games"


def test_the_password_never_reaches_observations_or_trajectories(
    smtp_server, scripted_backend, monkeypatch
):
    monkeypatch.setenv("GBA_SMTP_USER", "agent")
    monkeypatch.setenv("GBA_SMTP_PASSWORD", "pa55-w0rd-XYZ")
    # security "none" with a login: refused before the password could leave
    scripted_backend.add(
        plan_answer("send_email", "Invite Michael"), MAIL, plan_answer("final_answer"), "ok"
    )
    result = CliRunner().invoke(cli, ["run", "Invite Michael", "--llm", "scripted:t", "--json"])
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.stdout)
    assert trajectory["steps"][0]["tool_error"]
    assert "SMTP login needs" in trajectory["steps"][0]["observation"]
    assert "pa55-w0rd-XYZ" not in result.output


def test_the_password_is_scrubbed_from_server_errors(smtp_server, monkeypatch):
    """With TLS asked for, this plain server fails the STARTTLS step; whatever the server
    says comes back without the password."""
    monkeypatch.setenv("GBA_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("GBA_SMTP_USER", "agent")
    monkeypatch.setenv("GBA_SMTP_PASSWORD", "pa55-w0rd-XYZ")
    with pytest.raises(RuntimeError, match="SMTP delivery") as err:
        send(MAIL)
    assert "pa55-w0rd-XYZ" not in str(err.value)
    assert smtp_server.envelopes == []


def test_an_unknown_security_setting_is_a_clear_error(smtp_server, monkeypatch):
    from gba_core.errors import ConfigError

    monkeypatch.setenv("GBA_SMTP_SECURITY", "tls")
    with pytest.raises(ConfigError, match="setting smtp_security: 'tls' is not one of starttls"):
        send(MAIL)


def test_office_passwords_are_remembered_when_read(monkeypatch):
    from gba_core import secrets
    from gba_tools_office.settings import settings

    monkeypatch.setattr(secrets, "_secrets", set())
    monkeypatch.setenv("GBA_SMTP_PASSWORD", "pa55-word-smtp")
    assert settings().smtp_password == "pa55-word-smtp"
    assert secrets.redact("login pa55-word-smtp refused") == "login *** refused"
