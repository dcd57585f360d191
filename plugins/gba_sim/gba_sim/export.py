"""``gba sim export``: a run as files, one JSON per trajectory and per rating.

Trajectories are written canonically: without the measured fields (timings and the
run-specific id), so regenerating a run with the same seeds from the call cache writes
the same bytes, and two runs can be compared with ``diff -r``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gba_core.schema import Trajectory

from .db import RunsDB

# Measured, not generated: they differ between two runs that made the same trajectory.
VOLATILE: dict[str, Any] = {
    "id": True,
    "started_at": True,
    "finished_at": True,
    "steps": {"__all__": {"tool_seconds": True, "planner_usage": {"seconds"}}},
}


def canonical_json(trajectory: Trajectory) -> str:
    """The trajectory's content as JSON: the same bytes whenever the same plans,
    observations and answers were made."""
    return trajectory.model_dump_json(exclude=VOLATILE, indent=2) + "\n"


def file_name(request_id: str) -> str:
    """A request id as a file name: ids come from users and imports."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", request_id).lstrip(".") or "_"


def export_run(db: RunsDB, run_id: str, out: Path) -> dict[str, int]:
    """Write ``out/trajectories/<request>.json`` and ``out/ratings/<request>.json``
    (every judge's rating); returns the counts written."""
    (out / "trajectories").mkdir(parents=True, exist_ok=True)
    written = {"trajectories": 0, "ratings": 0}
    used: set[str] = set()
    for trajectory in db.trajectories(run_id):
        name = base = file_name(trajectory.request.id)
        while name in used:  # two ids that differ only in unsafe characters
            name = f"{base}-{len(used)}"
        used.add(name)
        (out / "trajectories" / f"{name}.json").write_text(canonical_json(trajectory))
        written["trajectories"] += 1
        ratings = db.ratings(trajectory.id)
        if ratings:
            (out / "ratings").mkdir(exist_ok=True)
            (out / "ratings" / f"{name}.json").write_text(
                json.dumps(ratings, indent=2, sort_keys=True) + "\n"
            )
            written["ratings"] += 1
    return written
