"""``gba sim import``: the output layout of the original grammar-based-agents project.

::

    requests/<name>.txt          text with a fenced json block:
                                 {"topic": ..., "requests": [{"request": ..., "explanation": ...}]}
                                 request id = <name>_<index from 0>
    trajectories/<id>.json       [{"plan": {user_request, context_information_summary,
                                   missing_information_or_action, thoughts, task,
                                   selected_tool}, "result": str}, ...]; [] = the run failed
    evaluations/<id>.json        {"steps": [{task_rating, tool_rating, result_rating,
                                   explanation}], "final_answer_rating", "explanation"}

Trajectories that use a tool no installed plugin provides are reported and left out.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gba_core.errors import ConfigError
from gba_core.schema import Request, Step, TeacherPlan, Trajectory

from .db import RunsDB

_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)
FINAL_ANSWER = "final_answer"


@dataclass
class ImportReport:
    requests: int = 0
    trajectories: int = 0
    failed: int = 0
    ratings: int = 0
    unknown_tools: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_json(path: Path, report: ImportReport) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.problems.append(f"{path.name}: {exc}")
        return None


def read_requests(folder: Path, report: ImportReport) -> tuple[list[Request], dict[str, str]]:
    requests, explanations = [], {}
    for file in sorted(folder.glob("*.txt")):
        text = file.read_text(encoding="utf-8", errors="replace")
        match = _FENCED_JSON.search(text)
        try:
            batch = json.loads(match.group(1) if match else text)
            items = batch["requests"]
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"{file.name}: no JSON block with a requests list")
            continue
        topic = batch.get("topic")
        for index, item in enumerate(items):
            request_text = str(item.get("request", "")).strip() if isinstance(item, dict) else ""
            if not request_text:
                report.problems.append(f"{file.name}: request {index} is empty")
                continue
            request_id = f"{file.stem}_{index}"
            requests.append(Request(id=request_id, text=request_text, topic=topic))
            if item.get("explanation"):
                explanations[request_id] = str(item["explanation"])
    return requests, explanations


def trajectory_of(
    request: Request, items: list[Any], run_id: str, today: date | None = None
) -> Trajectory:
    steps = []
    for index, item in enumerate(items):
        plan = TeacherPlan(**item["plan"])
        steps.append(Step(index=index, plan=plan, observation=str(item["result"])))
    trajectory = Trajectory(
        id=f"{run_id}:{request.id}",
        request=request,
        steps=steps,
        planner="teacher",
        tool_mode="simulated",
        today=today,
    )
    if not steps:
        trajectory.status, trajectory.error = "error", "the original run failed (no steps)"
    elif steps[-1].plan and steps[-1].plan.selected_tool == FINAL_ANSWER:
        trajectory.status, trajectory.final_answer = "completed", steps[-1].observation
    else:
        trajectory.status = "max_steps"
    return trajectory


def ensure_import_run(db: RunsDB, run_id: str, source: str) -> None:
    """A run of trajectories made elsewhere (by the teacher, with no models of ours)."""
    db.ensure_run(
        run_id, kind="import", planner="teacher", models={}, seed=None, options={"source": source}
    )


def import_seed(folder: Path, db: RunsDB, *, run_id: str, known_tools: set[str]) -> ImportReport:
    if not (folder / "requests").is_dir():
        raise ConfigError(
            f"{folder}: no requests/ folder (expected the grammar-based-agents layout)"
        )
    report = ImportReport()
    requests, explanations = read_requests(folder / "requests", report)
    report.requests = db.add_requests(requests, explanation=explanations, source=str(folder))
    ensure_import_run(db, run_id, str(folder))
    done = db.done_request_ids(run_id)
    for request in requests:
        path = folder / "trajectories" / f"{request.id}.json"
        if request.id in done or not path.is_file():
            continue
        items = _read_json(path, report)
        if not isinstance(items, list):
            if items is not None:
                report.problems.append(f"{path.name}: not a list of steps")
            continue
        try:
            trajectory = trajectory_of(request, items, run_id)
        except (KeyError, TypeError, ValidationError) as exc:
            report.problems.append(f"{path.name}: malformed step ({type(exc).__name__})")
            continue
        unknown = {s.plan.selected_tool for s in trajectory.steps if s.plan} - known_tools
        if unknown:
            report.unknown_tools.update(unknown)
            report.skipped.append(request.id)
            continue
        db.save_trajectory(run_id, trajectory)
        report.trajectories += 1
        report.failed += trajectory.status == "error"
        evaluation = folder / "evaluations" / f"{request.id}.json"
        if evaluation.is_file() and isinstance(rating := _read_json(evaluation, report), dict):
            final = rating.get("final_answer_rating")
            db.save_rating(
                trajectory.id, "import", int(final) if final is not None else None, rating
            )
            report.ratings += 1
    return report
