"""create_event: a function tool; events go to an iCalendar file or a CalDAV server."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

from gba_core.tools import FunctionTool, ToolOptions

from .settings import data_dir, settings


def _vevent(
    title: str,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    location: str,
    description: str,
) -> object:
    from icalendar import Event

    event = Event()
    event.add("uid", f"{uuid.uuid4()}@gba")
    event.add("dtstamp", dt.datetime.now(dt.UTC))
    event.add("summary", title)
    event.add("dtstart", start)
    event.add("dtend", end)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    return event


def ics_path() -> Path:
    return settings().ics_path or data_dir() / "calendar.ics"


def add_to_ics(path: Path, event: Any) -> None:
    """Add ``event`` keeping every event already there; atomic, and safe with several
    writers (a file lock around read-modify-replace)."""
    from filelock import FileLock
    from icalendar import Calendar

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size:
            calendar = Calendar.from_ical(path.read_bytes())
        else:
            calendar = Calendar()
            calendar.add("prodid", "-//gba//gba-tools-office//EN")
            calendar.add("version", "2.0")
        calendar.add_component(event)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(calendar.to_ical())
        os.replace(tmp, path)


def add_to_caldav(event: Any) -> str:
    import caldav
    from icalendar import Calendar

    config = settings()
    client = caldav.DAVClient(  # type: ignore[operator]  # caldav's own types say object
        url=config.caldav_url,
        username=config.caldav_user,
        password=config.caldav_password,
    )
    wanted = config.caldav_calendar
    calendars = client.principal().calendars()
    if not calendars:
        raise RuntimeError("the CalDAV account has no calendar")
    chosen = next(
        (c for c in calendars if wanted in (None, str(c.url), c.get_display_name())), None
    )
    if chosen is None:
        raise RuntimeError(f"no CalDAV calendar named {wanted!r}")
    wrapper = Calendar()
    wrapper.add("prodid", "-//gba//gba-tools-office//EN")
    wrapper.add("version", "2.0")
    wrapper.add_component(event)
    chosen.save_event(wrapper.to_ical().decode())
    return chosen.get_display_name() or str(chosen.url)


def create_event(
    title: str,
    date: dt.date,
    time: dt.time | None = None,
    duration_minutes: int = 60,
    location: str = "",
    description: str = "",
) -> str:
    """Create a calendar event.

    Args:
        title: Short title of the event.
        date: Day of the event (YYYY-MM-DD).
        time: Start time (HH:MM); leave empty for an all-day event.
        duration_minutes: Length of the event in minutes.
        location: Where it takes place.
        description: Notes for the event.
    """
    if time is None:
        start: dt.date | dt.datetime = date
        end: dt.date | dt.datetime = date + dt.timedelta(days=1)
    else:
        start = dt.datetime.combine(date, time)
        end = start + dt.timedelta(minutes=max(duration_minutes, 1))
    event = _vevent(title, start, end, location, description)
    when = f"{date.isoformat()}" + (f" {time.strftime('%H:%M')}" if time else " (all day)")
    if settings().caldav_url:
        calendar = add_to_caldav(event)
        return f"Event '{title}' created for {when} in CalDAV calendar {calendar}."
    path = ics_path()
    add_to_ics(path, event)
    return f"Event '{title}' created for {when} in {path}."


class CreateEvent(FunctionTool):
    def unavailable(self, *, interactive: bool, options: ToolOptions) -> str | None:
        config = settings()
        if config.caldav_url and config.caldav_user and not config.caldav_password:
            return "caldav_user is set but caldav_password is not"
        return None


create_event_tool = CreateEvent(create_event, examples=("function_arguments.jsonl",))
