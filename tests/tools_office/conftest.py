import pytest


@pytest.fixture(autouse=True)
def office_env(tmp_path, monkeypatch):
    """Every test gets its own calendar file and outbox, no SMTP/CalDAV, tight limits."""
    for name in (
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_SECURITY",
        "CALDAV_URL",
        "CALDAV_USER",
        "CALDAV_PASSWORD",
        "ALLOW_BASH",
        "ASK_USER_ANSWERS",
    ):
        monkeypatch.delenv(f"GBA_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray gba.toml
    monkeypatch.setenv("GBA_ICS_PATH", str(tmp_path / "calendar.ics"))
    monkeypatch.setenv("GBA_MAILDIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("GBA_SANDBOX_CPU_SECONDS", "2")
    monkeypatch.setenv("GBA_SANDBOX_WALL_SECONDS", "8")
    monkeypatch.setenv("GBA_SANDBOX_MEMORY_MB", "256")
    return tmp_path
