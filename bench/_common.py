"""Shared pieces of the benchmarks: timing helpers and a representative tool set."""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

from gba_core.schema import ScratchpadEntry
from gba_core.tools import SimulatedTool

# Stand-ins with the names and descriptions of the eight tools the shipped plugins
# provide, so prompt sizes are realistic without them installed. Only their prompts
# are used.
TOOL_DESCRIPTIONS = {
    "search_wikipedia": "Search a local Wikipedia index and summarise what it says about "
    "the task's topic. Use it for encyclopedic facts: people, places, history, science.",
    "search_internet": "Search the internet for current information (news, prices, "
    "schedules, opening hours) and summarise the best pages.",
    "calculate_number": "Compute a number from numbers in the task or in earlier results: "
    "arithmetic, unit conversions, dates, percentages.",
    "create_event": "Create a calendar event with a title, date, optional time, duration, "
    "location and description.",
    "send_email": "Send an email to one recipient with a subject and a body written from the task.",
    "ask_user": "Ask the user a question when information only they have is missing.",
    "use_bash": "Run a shell command in a sandbox and return its output.",
    "final_answer": "Give the final answer to the user when the results so far are enough.",
}

REQUEST = (
    "Find out when the 2026 Winter Olympics start, add the opening ceremony to my "
    "calendar and email the date to michael@example.com."
)

SCRATCHPAD = [
    ScratchpadEntry(
        task="Find the start date of the 2026 Winter Olympics",
        tool="search_wikipedia",
        result="The 2026 Winter Olympics in Milan and Cortina d'Ampezzo open with a "
        "ceremony at San Siro on 6 February 2026 and close on 22 February 2026.",
    ),
    ScratchpadEntry(
        task="Create a calendar event for the opening ceremony on 6 February 2026",
        tool="create_event",
        result="Event 'Winter Olympics opening ceremony' created for 2026-02-06 20:00.",
    ),
    ScratchpadEntry(
        task="Email michael@example.com that the Winter Olympics open on 6 February 2026",
        tool="send_email",
        result="Email sent to michael@example.com with subject 'Winter Olympics 2026'.",
    ),
    ScratchpadEntry(
        task="Ask the user whether to invite anyone else",
        tool="ask_user",
        result="No, that is all, thank you.",
    ),
    ScratchpadEntry(
        task="Work out how many days remain until the opening ceremony",
        tool="calculate_number",
        result="75",
    ),
]


def tools() -> dict[str, SimulatedTool]:
    return {name: SimulatedTool(name, desc) for name, desc in TOOL_DESCRIPTIONS.items()}


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def command_seconds(cmd: list[str], runs: int) -> list[float]:
    return timed(lambda: subprocess.run(cmd, check=True, capture_output=True), runs)


def bench_args(runs: int = 5) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--llm", default="llama-cpp:gemma-3-270m")
    return parser.parse_args()


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
