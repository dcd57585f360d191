"""Configuration of the office tools: environment variables first, then the ``[office]``
table of ``gba.toml``, then defaults. Secrets (SMTP and CalDAV passwords) are read when
needed and never copied into observations, logs or trajectories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gba_core.config import plugin_setting
from gba_core.errors import ConfigError
from gba_core.secrets import remember

DEFAULTS: dict[str, Any] = {
    "ics_path": None,  # default: <user data dir>/gba/calendar.ics
    "caldav_url": None,
    "caldav_user": None,
    "caldav_password": None,
    "caldav_calendar": None,  # a calendar name or URL; default: the first calendar
    "smtp_host": None,
    "smtp_port": None,
    "smtp_security": "starttls",  # starttls | ssl | none
    "smtp_user": None,
    "smtp_password": None,
    "email_from": "gba@localhost",
    "maildir": None,  # default: <user data dir>/gba/outbox
    "ask_user_answers": None,  # file with answers for non-interactive runs
    "sandbox_cpu_seconds": 10,
    "sandbox_wall_seconds": 20.0,
    "sandbox_memory_mb": 512,
    "sandbox_processes": 32,
    "sandbox_file_size_mb": 16,
    "sandbox_disk_mb": 64,
    "sandbox_inodes": 4096,
    "sandbox_open_files": 64,
    "sandbox_output_bytes": 16000,
    "sandbox_allow_weak_isolation": False,  # True: run even without namespaces
}


def setting(name: str) -> Any:
    """``GBA_<NAME>`` in the environment, else ``[office] <name>`` in gba.toml, else the
    default."""
    value = plugin_setting("office", name, DEFAULTS)
    if name.endswith("_password"):
        remember(value)
    return value


SMTP_SECURITY = ("starttls", "ssl", "none")


def check_settings() -> None:
    """Read every ``[office]`` setting once, so a bad value (a word where a number goes,
    an unknown ``smtp_security``) stops gba at start in one line instead of failing
    inside a run when a tool first needs it."""
    for name in DEFAULTS:
        setting(name)  # a numeric setting that is not a number raises here
    security = str(setting("smtp_security")).lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(
            f"setting smtp_security: {security!r} is not one of {', '.join(SMTP_SECURITY)}"
        )
    port = setting("smtp_port")
    if port not in (None, "") and not str(port).strip().isdigit():
        raise ConfigError(f"setting smtp_port: {port!r} is not a port number")
    for name in DEFAULTS:
        value = setting(name)
        if name.startswith("sandbox_") and not isinstance(value, bool) and value <= 0:
            raise ConfigError(f"setting {name}: must be more than 0, got {value!r}")


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gba"))


def sandbox_limits() -> Any:
    from gba_core.sandbox import Limits

    return Limits(
        cpu_seconds=setting("sandbox_cpu_seconds"),
        wall_seconds=setting("sandbox_wall_seconds"),
        memory_mb=setting("sandbox_memory_mb"),
        processes=setting("sandbox_processes"),
        file_size_mb=setting("sandbox_file_size_mb"),
        disk_mb=setting("sandbox_disk_mb"),
        inodes=setting("sandbox_inodes"),
        open_files=setting("sandbox_open_files"),
        output_bytes=setting("sandbox_output_bytes"),
        allow_weak_isolation=setting("sandbox_allow_weak_isolation"),
    )
