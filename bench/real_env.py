"""The real-environment benchmark: whole requests answered with real tools.

Each request of ``real_env_requests.jsonl`` runs with the real tools in a fresh folder
(its own .ics calendar, Maildir outbox and ask_user answers file), under several
``today`` dates. A run passes when the final answer matches the expected patterns and
the expected calendar event and email exist. A failure is charged to one stage:

* ``choice``: the planner never chose a tool the request needs (or never final_answer);
* ``tool``: the tool ran but its result, event or email is wrong;
* ``answer``: the results were right but the final answer is not.

    ../.venv/bin/python real_env.py                          # shipped vs zero-shot, 3 dates
    ../.venv/bin/python real_env.py --config shipped --limit 5 --dates 2027-03-15
    ../.venv/bin/python real_env.py --json out/real_env.json
    ../.venv/bin/python real_env.py --planner-llm llama-cpp:planner/merged-q8_0.gguf

Per configuration it prints the pass rate ± s.e. over the dates, mean steps, median and
p90 seconds per request, seconds per planner step and failures by stage and tool.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
REQUESTS = HERE / "real_env_requests.jsonl"
DATES = ("2026-12-07", "2027-03-15", "2027-07-01")
# shipped-planner: the shipped planner with the base model in the tool roles.
CONFIGS = ("shipped", "zero-shot", "shipped-planner")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Tools that act on the world; the others produce information the answer is built from.
ACTING = ("create_event", "send_email")


def load_requests(path: Path = REQUESTS) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expand(pattern: str, today: date) -> str:
    """Fill ``{today}``, ``{today+N}``, ``{year}``, ``{year-NNNN}`` and ``{weekday:+N}``."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "today":
            return today.isoformat()
        if m := re.fullmatch(r"today([+-]\d+)", key):
            return (today + timedelta(days=int(m.group(1)))).isoformat()
        if key == "year":
            return str(today.year)
        if m := re.fullmatch(r"year-(\d+)", key):
            return str(today.year - int(m.group(1)))
        if m := re.fullmatch(r"weekday:([+-]?\d+)", key):
            return WEEKDAYS[(today + timedelta(days=int(m.group(1)))).weekday()]
        return match.group(0)  # a regex quantifier such as {2}

    return re.sub(r"\{([a-z][^{}]*)\}", one, pattern)


def matches(patterns: list[str], text: str, today: date) -> bool:
    return all(re.search(expand(p, today), text, re.I | re.S) for p in patterns)


def events_in(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    from icalendar import Calendar

    calendar = Calendar.from_ical(path.read_bytes())
    found = []
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        when = start if isinstance(start, datetime) else None
        day = start.date() if isinstance(start, datetime) else start
        found.append(
            {
                "title": str(event.get("SUMMARY", "")),
                "date": day.isoformat(),
                "time": when.strftime("%H:%M") if when else "",
            }
        )
    return found


def emails_in(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    found = []
    for message in mailbox.Maildir(path, create=False):
        body = message.get_payload(decode=True) or b""
        if message.is_multipart():
            body = b"".join(part.get_payload(decode=True) or b"" for part in message.walk())
        found.append(
            {
                "to": str(message["To"] or ""),
                "text": f"{message['Subject'] or ''}\n{body.decode('utf-8', 'replace')}",
            }
        )
    return found


def event_ok(expected: dict[str, str], events: list[dict[str, str]], today: date) -> bool:
    for event in events:
        if event["date"] != expand(expected["date"], today):
            continue
        if expected.get("time") and event["time"] != expected["time"]:
            continue
        if re.search(expand(expected.get("title", ""), today), event["title"], re.I):
            return True
    return False


def email_ok(expected: dict[str, Any], emails: list[dict[str, str]], today: date) -> bool:
    return any(
        expected["to"].lower() in email["to"].lower()
        and matches(expected.get("body", []), email["text"], today)
        for email in emails
    )


@dataclass
class Outcome:
    id: str
    kind: str
    today: str
    passed: bool
    stage: str | None = None  # choice | tool | answer
    tool: str | None = None
    steps: int = 0
    seconds: float = 0.0
    planner_seconds: list[float] = field(default_factory=list)
    tools_used: list[str] = field(default_factory=list)
    answer: str = ""
    # Each step's tool, task and observation, so a failure can be read back.
    trace: list[dict[str, str]] = field(default_factory=list)


def score(row: dict[str, Any], trajectory: Any, folder: Path, today: date) -> Outcome:
    steps = [s for s in trajectory.steps if s.plan is not None]
    used = [s.plan.selected_tool for s in steps]
    results = "\n".join(
        s.observation for s in steps if not s.tool_error and s.plan.selected_tool != "final_answer"
    )
    answer = trajectory.final_answer or "" if trajectory.status == "completed" else ""
    outcome = Outcome(
        id=row["id"],
        kind=row["kind"],
        today=today.isoformat(),
        passed=False,
        steps=len(trajectory.steps),
        planner_seconds=[s.planner_usage.seconds for s in trajectory.steps],
        tools_used=used,
        answer=answer,
        trace=[
            {"tool": s.plan.selected_tool, "task": s.plan.task, "observation": s.observation}
            for s in steps
        ],
    )
    needed = [t for t in row["tools"] if t != "final_answer"]
    if missing := [t for t in needed if t not in used]:
        outcome.stage, outcome.tool = "choice", missing[0]
        return outcome
    if "event" in row and not event_ok(row["event"], events_in(folder / "calendar.ics"), today):
        outcome.stage, outcome.tool = "tool", "create_event"
        return outcome
    if "email" in row and not email_ok(row["email"], emails_in(folder / "outbox"), today):
        outcome.stage, outcome.tool = "tool", "send_email"
        return outcome
    evidence = row.get("evidence", row["answer"])
    informing = [t for t in needed if t not in ACTING]
    if evidence and informing and not matches(evidence, results, today):
        outcome.stage, outcome.tool = "tool", informing[-1]
        return outcome
    if trajectory.status != "completed":
        outcome.stage, outcome.tool = "choice", "final_answer"
        return outcome
    if not matches(row["answer"], answer, today):
        outcome.stage, outcome.tool = "answer", "final_answer"
        return outcome
    outcome.passed = True
    return outcome


class Runner:
    """Builds the agent for one configuration, as `gba run` does, and runs requests."""

    def __init__(self, config: str, max_steps: int, planner: str = "fine-tuned") -> None:
        from gba_core.assembly import choose_models
        from gba_core.config import DEFAULT_LLM
        from gba_core.registry import get_llm, load_toolset

        self.installed = load_toolset().real
        tool_spec = DEFAULT_LLM
        # Chosen as `gba run` chooses with no model named on the command line (set no
        # GBA_*_LLM in the benchmark's shell): the shipped planner and its tool roles.
        default: dict[str, str | None] = {}
        if config in ("shipped", "shipped-planner"):
            models = choose_models("fine-tuned", default, self.installed)
            self.planner, spec = models.planner, models.planner_spec
            if config == "shipped":  # the shipped tool-role adapter too, as gba run uses it
                tool_spec = models.tool_spec
        elif config.startswith("planner="):
            # Another build of the fine-tuned planner (a quantized export) in front of
            # the shipped tool roles: only the planner differs from "shipped".
            tool_spec = choose_models("fine-tuned", default, self.installed).tool_spec
            self.planner, spec = planner, config.removeprefix("planner=")
        elif config == "zero-shot":
            self.planner, spec = "zero-shot", DEFAULT_LLM
        else:
            raise SystemExit(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")
        self.planner_llm = get_llm(spec)
        self.tool_llm = self.planner_llm if tool_spec == spec else get_llm(tool_spec)
        self.tool_spec = tool_spec
        self.max_steps = max_steps

    def run(self, row: dict[str, Any], today: date) -> Outcome:
        from gba_core.assembly import build_agent
        from gba_core.tools import ToolOptions, offered_tools

        with tempfile.TemporaryDirectory(prefix="gba-real-env-") as tmp:
            folder = Path(tmp)
            answers = folder / "answers.json"
            answers.write_text(json.dumps(row.get("answers", {})))
            env = {
                "GBA_ICS_PATH": str(folder / "calendar.ics"),
                "GBA_MAILDIR": str(folder / "outbox"),
                "GBA_ASK_USER_ANSWERS": str(answers),
            }
            os.environ.update(env)
            options = ToolOptions(allow_bash=bool(row.get("allow_bash")))
            tools, _ = offered_tools(self.installed, interactive=False, options=options)
            agent = build_agent(
                self.planner,
                tools,
                planner_llm=self.planner_llm,
                tool_llm=self.tool_llm,
                max_steps=self.max_steps,
                tool_options=options,
            )
            started = time.perf_counter()
            trajectory = agent.run(row["request"], today=today)
            seconds = time.perf_counter() - started
            outcome = score(row, trajectory, folder, today)
            outcome.seconds = seconds
            return outcome


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    per_date: dict[str, list[bool]] = {}
    for o in outcomes:
        per_date.setdefault(o.today, []).append(o.passed)
    rates = {d: sum(v) / len(v) for d, v in per_date.items()}
    mean = statistics.fmean(rates.values())
    stderr = statistics.stdev(rates.values()) / len(rates) ** 0.5 if len(rates) > 1 else 0.0
    steps = [s for o in outcomes for s in o.planner_seconds]
    failures = Counter(f"{o.stage}:{o.tool}" for o in outcomes if not o.passed)
    by_kind: dict[str, list[bool]] = {}
    for o in outcomes:
        by_kind.setdefault(o.kind, []).append(o.passed)
    return {
        "requests": len(outcomes),
        "pass_rate": {"mean": round(mean, 3), "stderr": round(stderr, 3)},
        "pass_rate_by_date": {d: round(r, 3) for d, r in rates.items()},
        "pass_rate_by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_kind.items())},
        "mean_steps": round(statistics.fmean(o.steps for o in outcomes), 2),
        "median_seconds": round(statistics.median(o.seconds for o in outcomes), 2),
        "p90_seconds": round(quantile([o.seconds for o in outcomes], 0.9), 2),
        "median_planner_step_seconds": round(statistics.median(steps), 3) if steps else 0.0,
        "failures": dict(failures.most_common()),
        "failures_by_stage": dict(Counter(o.stage for o in outcomes if not o.passed)),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", action="append", choices=CONFIGS, help="default: shipped and zero-shot"
    )
    parser.add_argument(
        "--planner-llm",
        action="append",
        default=[],
        metavar="SPEC",
        help="also run the fine-tuned planner on SPEC (an export of it, say merged q8_0)"
        " with the shipped tool roles; repeatable",
    )
    parser.add_argument(
        "--planner",
        default="fine-tuned",
        help="the planner that drives --planner-llm (fine-tuned-brief for a brief-plan adapter)",
    )
    parser.add_argument("--dates", default=",".join(DATES), help="comma-separated YYYY-MM-DD")
    parser.add_argument("--limit", type=int, default=None, help="the first N requests")
    parser.add_argument("--ids", default=None, help="comma-separated request ids")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--requests", type=Path, default=REQUESTS)
    parser.add_argument("--json", type=Path, default=None, help="write figures and outcomes")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = load_requests(args.requests)
    if args.ids:
        wanted = set(args.ids.split(","))
        rows = [r for r in rows if r["id"] in wanted]
    rows = rows[: args.limit] if args.limit else rows
    dates = [date.fromisoformat(d) for d in args.dates.split(",")]
    report: dict[str, Any] = {"machine": os.uname().nodename, "dates": args.dates, "configs": {}}
    configs = args.config or ([] if args.planner_llm else list(CONFIGS[:2]))
    for config in [*configs, *(f"planner={spec}" for spec in args.planner_llm)]:
        runner = Runner(config, args.max_steps, args.planner)
        outcomes = []
        for today in dates:
            for row in rows:
                outcome = runner.run(row, today)
                outcomes.append(outcome)
                if not args.quiet:
                    mark = "pass" if outcome.passed else f"FAIL {outcome.stage}:{outcome.tool}"
                    print(
                        f"{config} {today} {row['id']} {mark} {outcome.steps} steps "
                        f"{outcome.seconds:.1f}s {outcome.tools_used} {outcome.answer[:80]!r}",
                        flush=True,
                    )
        summary = summarize(outcomes)
        report["configs"][config] = {
            "summary": summary,
            "outcomes": [asdict(o) for o in outcomes],
        }
        print(f"\n{config}: {json.dumps(summary, indent=1)}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
