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
from gba_core.schema import Request, Step, Trajectory

from .db import RunsDB
from .teacher import TeacherPlan

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
        if not isinstance(items, list):
            report.problems.append(f"{file.name}: requests is not a list")
            continue
        topic = batch.get("topic")
        if topic is not None and not isinstance(topic, str):
            report.problems.append(f"{file.name}: topic {topic!r} is not text")
            continue
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


def rating_of(path: Path, report: ImportReport) -> tuple[int | None, dict[str, Any]] | None:
    """The final rating (1-5, or None when the file has none) and the whole evaluation,
    or None with a problem reported when the file cannot be used."""
    rating = _read_json(path, report)
    if rating is None:
        return None
    if not isinstance(rating, dict):
        report.problems.append(f"{path.name}: not a JSON object")
        return None
    final = rating.get("final_answer_rating")
    if final is None:
        return None, rating
    if isinstance(final, bool) or not isinstance(final, int | float) or final != int(final):
        report.problems.append(f"{path.name}: final_answer_rating {final!r} is not a whole number")
        return None
    return int(final), rating


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
        evaluation = folder / "evaluations" / f"{request.id}.json"
        if request.id in done:
            # A rating missing from an earlier import (a bad file since fixed) comes in now.
            trajectory_id = f"{run_id}:{request.id}"
            missing = evaluation.is_file() and "import" not in db.ratings(trajectory_id)
            if missing and (found := rating_of(evaluation, report)) is not None:
                db.save_rating(trajectory_id, "import", *found)
                report.ratings += 1
            continue
        if not path.is_file():
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
        found = rating_of(evaluation, report) if evaluation.is_file() else None
        # One transaction: a killed import never keeps a trajectory without its rating.
        db.save_trajectory(run_id, trajectory, rating=("import", *found) if found else None)
        report.trajectories += 1
        report.failed += trajectory.status == "error"
        report.ratings += found is not None
    return report
