"""create_event against an iCalendar file and a Radicale CalDAV server on 127.0.0.1."""

import datetime as dt
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor

import pytest

from gba_core.llm.scripted import ScriptedLLM
from gba_core.tools import ToolContext
from gba_tools_office.calendar import _vevent, add_to_ics, create_event, create_event_tool


def events(path):
    from icalendar import Calendar

    calendar = Calendar.from_ical(path.read_bytes())
    return [e for e in calendar.walk("VEVENT")]


def run_tool(arguments):
    llm = ScriptedLLM([arguments])
    task = "Put the Winter Games opening on my calendar"
    return create_event_tool.run("r", task, [], ToolContext(llm=llm))


def test_the_tool_writes_an_event_and_keeps_the_others(office_env):
    path = office_env / "calendar.ics"
    run_tool({"title": "Dentist", "date": "2026-01-10", "time": "09:30"})
    out = run_tool(
        {
            "title": "Winter Games opening",
            "date": "2026-02-06",
            "time": "20:00",
            "duration_minutes": 180,
            "location": "San Siro",
        }
    )
    assert "Winter Games opening" in out and "2026-02-06 20:00" in out
    found = {str(e["SUMMARY"]): e for e in events(path)}
    assert set(found) == {"Dentist", "Winter Games opening"}
    opening = found["Winter Games opening"]
    assert opening.decoded("DTSTART") == dt.datetime(2026, 2, 6, 20, 0)
    assert opening.decoded("DTEND") == dt.datetime(2026, 2, 6, 23, 0)
    assert str(opening["LOCATION"]) == "San Siro"


def test_all_day_event(office_env):
    create_event("Holiday", dt.date(2026, 5, 1))
    (event,) = events(office_env / "calendar.ics")
    assert event.decoded("DTSTART") == dt.date(2026, 5, 1)


def test_bad_arguments_are_rejected_before_anything_is_written(office_env):
    from gba_core.errors import InvalidOutputError

    with pytest.raises(InvalidOutputError):
        run_tool({"title": "x", "date": "next friday"})
    assert not (office_env / "calendar.ics").exists()


def _writer(args):
    path, prefix = args
    from pathlib import Path

    for i in range(10):
        add_to_ics(
            Path(path), _vevent(f"{prefix}-{i}", dt.date(2026, 3, 1), dt.date(2026, 3, 2), "", "")
        )


def test_two_concurrent_writers_lose_nothing(office_env):
    path = office_env / "calendar.ics"
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_writer, [(str(path), "a"), (str(path), "b")]))
    titles = sorted(str(e["SUMMARY"]) for e in events(path))
    assert titles == sorted([f"a-{i}" for i in range(10)] + [f"b-{i}" for i in range(10)])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def radicale(tmp_path):
    port = free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {tmp_path / 'collections'}\n"
        f"[rights]\ntype = authenticated\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"radicale did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_create_event_on_a_caldav_server(radicale, monkeypatch):
    import caldav

    client = caldav.DAVClient(url=radicale, username="alice", password="secret-pw")
    calendar = client.principal().make_calendar(name="work")
    monkeypatch.setenv("GBA_CALDAV_URL", radicale)
    monkeypatch.setenv("GBA_CALDAV_USER", "alice")
    monkeypatch.setenv("GBA_CALDAV_PASSWORD", "secret-pw")
    out = run_tool(
        {"title": "Team lunch", "date": "2026-02-08", "time": "12:30", "duration_minutes": 90}
    )
    assert "CalDAV calendar work" in out and "secret-pw" not in out
    found = calendar.search(
        start=dt.datetime(2026, 2, 8), end=dt.datetime(2026, 2, 9), event=True, expand=False
    )
    assert len(found) == 1
    vevent = found[0].icalendar_component
    assert str(vevent["SUMMARY"]) == "Team lunch"
    assert vevent.decoded("DTSTART") == dt.datetime(2026, 2, 8, 12, 30)
    assert vevent.decoded("DTEND") == dt.datetime(2026, 2, 8, 14, 0)
