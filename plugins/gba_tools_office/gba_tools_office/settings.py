"""Configuration of the office tools: environment variables first, then the ``[office]``
table of ``gba.toml``, then the defaults below (the sandbox's are ``Limits``'s own).
Secrets (SMTP and CalDAV passwords) are remembered for redaction when read and never
copied into observations, logs or trajectories."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gba_core.config import load_settings
from gba_core.errors import SettingError
from gba_core.sandbox import Limits
from gba_core.secrets import remember

SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class OfficeSettings:
    """Every ``[office]`` setting; ``sandbox`` is read from the ``sandbox_*`` keys."""

    ics_path: Path | None = None  # default: <user data dir>/gba/calendar.ics
    caldav_url: str | None = None
    caldav_user: str | None = None
    caldav_password: str | None = None
    caldav_calendar: str | None = None  # a calendar name or URL; default: the first one
    smtp_host: str | None = None
    smtp_port: int | None = None  # default: 465 with ssl, 587 with starttls, else 25
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_user: str | None = None
    smtp_password: str | None = None
    email_from: str = "gba@localhost"
    maildir: Path | None = None  # default: <user data dir>/gba/outbox
    ask_user_answers: Path | None = None  # a file of answers for non-interactive runs
    sandbox: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        # Frozen: the one normalisation goes through object.__setattr__.
        object.__setattr__(self, "smtp_security", self.smtp_security.strip().lower())
        if self.smtp_security not in SMTP_SECURITY:
            raise SettingError(
                "smtp_security",
                f"{self.smtp_security!r} is not one of {', '.join(SMTP_SECURITY)}",
            )
        for secret in (self.smtp_password, self.caldav_password):
            if secret:
                remember(secret)


def settings() -> OfficeSettings:
    """The office settings as configured now (read afresh: tests and long runs may
    change the environment)."""
    return load_settings("office", OfficeSettings)


def check_settings() -> None:
    """Read every ``[office]`` setting once, so a bad value (a word where a number goes,
    an unknown ``smtp_security``) stops gba at start in one line instead of failing
    inside a run when a tool first needs it."""
    settings()


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gba"))
