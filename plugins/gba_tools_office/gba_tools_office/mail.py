"""send_email: a function tool; mail goes through SMTP when configured, otherwise to a
local Maildir outbox, so nothing is lost and the user can read what the agent sent."""

from __future__ import annotations

import mailbox
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from gba_core.tools import FunctionTool

from .settings import data_dir, settings


def _message(recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings().email_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="gba.local")
    message.set_content(body)
    return message


def _smtp_send(message: EmailMessage, host: str) -> str:
    config = settings()
    security = config.smtp_security
    port = config.smtp_port or {"ssl": 465, "starttls": 587}.get(security, 25)
    user, password = config.smtp_user, config.smtp_password
    if user and security == "none":
        # A login over plain SMTP would send the password in the clear.
        raise RuntimeError(
            "SMTP login needs smtp_security starttls or ssl; not sending the "
            "password over an unencrypted connection"
        )
    try:
        if security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=30, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(host, port, timeout=30)
        with server:
            if security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if user:
                server.login(user, password or "")
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The server's words may echo what was sent; never the password.
        text = str(exc)
        if password:
            text = text.replace(password, "***")
        raise RuntimeError(f"SMTP delivery to {host}:{port} failed: {text}") from None
    return f"{host}:{port}"


def maildir_path() -> Path:
    return settings().maildir or data_dir() / "outbox"


def send_email(recipient: str, subject: str, body: str) -> str:
    """Send an email to one recipient.

    Args:
        recipient: Email address of the recipient.
        subject: Subject line.
        body: Text of the email.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        address = validate_email(recipient, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return f"Error: {recipient!r} is not a valid email address: {exc}"
    message = _message(address, subject, body)
    if host := settings().smtp_host:
        server = _smtp_send(message, host)
        return f"Email sent to {address} with subject '{subject}' via {server}."
    outbox = mailbox.Maildir(maildir_path(), create=True)
    outbox.add(message)
    return f"Email to {address} with subject '{subject}' saved in the outbox {maildir_path()}."


send_email_tool = FunctionTool(send_email, examples=("function_arguments.jsonl",))
