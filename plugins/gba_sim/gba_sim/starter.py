"""The starter set: reference trajectories written for the project, shipped with gba-sim.

Each line of ``starter/starter.jsonl`` is one request with its complete trajectory
(teacher plans and plausible observations) over the office and search tools, ending in
final_answer, and the date the user asks on (``today``: the plans resolve "tomorrow" or
"this year" from it). The split is fixed: ``train`` or ``heldout``, by trajectory.
Loading it gives a run whose trajectories carry the rating 5 from the judge
``reference``, so ``gba sim package`` treats it like any judged run.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from gba_core.schema import Request, Trajectory

from .db import RunsDB
from .importer import ensure_import_run, trajectory_of

JUDGE = "reference"


def starter_path() -> Path:
    return Path(str(resources.files(__package__) / "starter" / "starter.jsonl"))


@dataclass
class StarterReport:
    requests: int = 0
    trajectories: int = 0
    splits: Counter[str] = field(default_factory=Counter)
    unknown_tools: Counter[str] = field(default_factory=Counter)
    skipped: int = 0


def load_starter(
    db: RunsDB, *, run_id: str, known_tools: set[str], path: Path | None = None
) -> StarterReport:
    """Store the starter set as run ``run_id``; trajectories using a tool that is not
    installed are left out and counted. Loading again adds nothing."""
    report = StarterReport()
    rows = [json.loads(line) for line in (path or starter_path()).read_text().splitlines() if line]
    requests = [
        Request(
            id=row["id"],
            text=row["request"],
            topic=row.get("topic"),
            category=row.get("category"),
            split=row["split"],
        )
        for row in rows
    ]
    report.requests = db.add_requests(requests, source="gba-sim starter set")
    ensure_import_run(db, run_id, "starter")
    done = db.done_request_ids(run_id)
    for row, request in zip(rows, requests, strict=True):
        trajectory = trajectory_of(
            request,
            row["steps"],
            run_id,
            today=date.fromisoformat(row["today"]) if row.get("today") else None,
        )
        unknown = {s.plan.selected_tool for s in trajectory.steps if s.plan} - known_tools
        if unknown:
            report.unknown_tools.update(unknown)
            report.skipped += 1
            continue
        report.splits[request.split or "train"] += 1
        rating = (JUDGE, 5, {"source": "reference trajectory"})
        if request.id in done:
            # Databases written before ratings were saved with their trajectory may lack one.
            if JUDGE not in db.ratings(trajectory.id):
                db.save_rating(trajectory.id, *rating)
            continue
        db.save_trajectory(run_id, trajectory, rating=rating)
        report.trajectories += 1
    return report


def starter_trajectories(
    *, split: str | None = None, known_tools: set[str] | None = None, path: Path | None = None
) -> list[Trajectory]:
    """The starter set's trajectories (of ``split``, when given), without a database;
    those using a tool outside ``known_tools`` are left out."""
    out = []
    for line in (path or starter_path()).read_text().splitlines():
        if not line:
            continue
        row = json.loads(line)
        if split and row["split"] != split:
            continue
        request = Request(id=row["id"], text=row["request"], split=row["split"])
        today = date.fromisoformat(row["today"]) if row.get("today") else None
        trajectory = trajectory_of(request, row["steps"], "starter", today=today)
        tools = {s.plan.selected_tool for s in trajectory.steps if s.plan}
        if known_tools is None or tools <= known_tools:
            out.append(trajectory)
    return out
