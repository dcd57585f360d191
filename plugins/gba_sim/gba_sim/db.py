"""The runs database: one SQLite file (WAL) holding requests, runs, trajectories and
their steps, ratings, the LLM call cache, and every call's tokens and cost.

The schema grows by numbered migrations, recorded in ``PRAGMA user_version``: a database
made by an older gba-sim is brought up to date when opened, never rebuilt. Documented in
the plugin README so users can query it with SQL or open it in datasette.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError
from gba_core.schema import Request, Trajectory

from .db_schema import MIGRATIONS

DEFAULT_PATH = "gba-runs.sqlite"


@dataclass(frozen=True)
class RatedTrajectory:
    """A stored trajectory (its JSON, as stored) and one judge's rating of it, if any."""

    request_id: str
    json: str
    status: str
    final_rating: int | None
    rating: dict[str, Any] | None  # per-step ratings, or {"error": ...} when the judge failed


class RunsDB:
    """The runs database at ``path``; safe to share between threads of one process."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._call_cache: Any = None
        try:
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path} is not a usable runs database: {exc}") from None

    def call_cache(self) -> Any:
        """This database's LLM call cache (one connection, shared by every role)."""
        from gba_core.llm.cache import CallCache

        with self._lock:
            if self._call_cache is None:
                self._call_cache = CallCache(self.path)
        return self._call_cache

    def cached(self, llm: Any) -> Any:
        """``llm`` answering through this database's LLM call cache."""
        from gba_core.llm.cache import CachedLLM

        return CachedLLM(llm, self.call_cache())

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise ConfigError(
                f"{self.path} was written by a newer gba-sim (schema {current}); upgrade it"
            )
        for number, script in enumerate(MIGRATIONS[current:], current + 1):
            with self._lock:
                self.db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self.db:
            yield self.db

    # requests

    def add_requests(
        self,
        requests: Iterable[Request],
        *,
        explanation: dict[str, str] | None = None,
        source: str = "",
    ) -> int:
        """Insert requests not yet present (by id); returns how many were new."""
        rows = [
            (r.id, r.text, r.topic, r.category, r.split, (explanation or {}).get(r.id), source)
            for r in requests
        ]
        with self.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO requests (id, text, topic, category, split, explanation,"
                " source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def requests(self, *, split: str | None = None) -> list[Request]:
        sql = "SELECT id, text, topic, category, split FROM requests"
        args: tuple[Any, ...] = ()
        if split:
            sql, args = sql + " WHERE split = ?", (split,)
        rows = self.db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [Request(id=i, text=t, topic=to, category=c, split=s) for i, t, to, c, s in rows]

    # runs and trajectories

    def ensure_run(
        self,
        run_id: str,
        *,
        kind: str,
        planner: str,
        models: dict[str, str],
        seed: int | None,
        options: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (id, kind, planner, models, seed, options)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    kind,
                    planner,
                    json.dumps(models, sort_keys=True),
                    seed,
                    json.dumps(options or {}, sort_keys=True),
                ),
            )

    def run_options(self, run_id: str) -> dict[str, Any] | None:
        """The options a run was made with, or None when there is no such run."""
        row = self.db.execute("SELECT options FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0] or "{}") if row else None

    def done_request_ids(self, run_id: str) -> set[str]:
        """Requests with a stored trajectory in the run (``failed`` items are not done)."""
        rows = self.db.execute(
            "SELECT request_id FROM trajectories WHERE run_id = ? AND status != 'failed'",
            (run_id,),
        )
        return {row[0] for row in rows}

    def save_trajectory(
        self,
        run_id: str,
        trajectory: Trajectory,
        *,
        status: str | None = None,
        rating: tuple[str, int | None, dict[str, Any]] | None = None,
    ) -> None:
        """Store a finished trajectory and its steps, and a (judge, final rating, details)
        that came with it, in one transaction."""
        blob = trajectory.model_dump_json()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO trajectories (id, run_id, request_id, status, error, seed, json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    trajectory.id,
                    run_id,
                    trajectory.request.id,
                    status or trajectory.status,
                    trajectory.error,
                    trajectory.seed,
                    blob,
                ),
            )
            db.executemany(
                "INSERT INTO steps (trajectory_id, idx, tool, task, observation, invalid_plan,"
                " tool_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        trajectory.id,
                        s.index,
                        s.plan.selected_tool if s.plan else None,
                        s.plan.task if s.plan else None,
                        s.observation,
                        int(s.invalid_plan),
                        int(s.tool_error),
                    )
                    for s in trajectory.steps
                ],
            )
            if rating is not None:
                _put_rating(db, trajectory.id, *rating)

    def failure_errors(self, run_id: str) -> list[str]:
        """The error of each ``failed`` item (a backend failure) of the run."""
        rows = self.db.execute(
            "SELECT error FROM trajectories WHERE run_id = ? AND status = 'failed'", (run_id,)
        )
        return [row[0] or "" for row in rows]

    def forget_failed(self, run_id: str) -> int:
        """Drop the ``failed`` items (backend failures) of a run so they are run again."""
        with self.transaction() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM trajectories WHERE run_id = ? AND status = 'failed'", (run_id,)
                )
            ]
            db.executemany("DELETE FROM steps WHERE trajectory_id = ?", [(i,) for i in ids])
            db.executemany("DELETE FROM trajectories WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def add_usage(self, run_id: str, calls: list[dict[str, Any]]) -> None:
        """Store LLM calls in ``calls`` and add them to the run's totals in ``usage``."""
        if not calls:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO calls (run_id, trajectory_id, role, spec, cached, prompt_tokens,"
                " completion_tokens, seconds, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        c["trajectory_id"],
                        c["role"],
                        c["spec"],
                        int(c["cached"]),
                        c["prompt_tokens"],
                        c["completion_tokens"],
                        c["seconds"],
                        c["cost"],
                    )
                    for c in calls
                ],
            )
            for c in calls:
                db.execute(
                    "INSERT INTO usage (run_id, role, spec) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (run_id, c["role"], c["spec"]),
                )
                db.execute(
                    "UPDATE usage SET calls = calls + 1, cached_calls = cached_calls + ?,"
                    " prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?,"
                    " seconds = seconds + ?, cost = cost + ? WHERE run_id = ? AND role = ?"
                    " AND spec = ?",
                    (
                        int(c["cached"]),
                        c["prompt_tokens"],
                        c["completion_tokens"],
                        c["seconds"],
                        c["cost"],
                        run_id,
                        c["role"],
                        c["spec"],
                    ),
                )

    def trajectories(self, run_id: str) -> list[Trajectory]:
        rows = self.db.execute(
            "SELECT json FROM trajectories WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [Trajectory.model_validate_json(row[0]) for row in rows]

    def unrated(self, run_id: str, judge: str) -> list[Trajectory]:
        """Trajectories of the run (not ``failed`` items) without a rating by ``judge``."""
        rows = self.db.execute(
            "SELECT json FROM trajectories t WHERE run_id = ? AND status != 'failed' AND NOT"
            " EXISTS (SELECT 1 FROM ratings r WHERE r.trajectory_id = t.id AND r.judge = ?)"
            " ORDER BY rowid",
            (run_id, judge),
        )
        return [Trajectory.model_validate_json(row[0]) for row in rows]

    def has_run(self, run_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def judges(self) -> list[str]:
        """Every judge that has rated something, by name."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT judge FROM ratings ORDER BY judge")]

    def rated(self, run_id: str, judge: str) -> list[RatedTrajectory]:
        """The run's trajectories in the order they were stored, each with ``judge``'s
        rating where it has one."""
        rows = self.db.execute(
            "SELECT t.request_id, t.json, t.status, r.final_rating, r.json FROM trajectories t"
            " LEFT JOIN ratings r ON r.trajectory_id = t.id AND r.judge = ?"
            " WHERE t.run_id = ? ORDER BY t.rowid",
            (judge, run_id),
        )
        return [
            RatedTrajectory(
                request_id, blob, status, final, json.loads(details) if details else None
            )
            for request_id, blob, status, final, details in rows
        ]

    def save_rating(
        self, trajectory_id: str, judge: str, final_rating: int | None, details: dict[str, Any]
    ) -> None:
        with self.transaction() as db:
            _put_rating(db, trajectory_id, judge, final_rating, details)

    def ratings(self, trajectory_id: str) -> dict[str, Any]:
        """Every judge's rating of a trajectory: judge -> {final_rating, details}."""
        rows = self.db.execute(
            "SELECT judge, final_rating, json FROM ratings WHERE trajectory_id = ? ORDER BY judge",
            (trajectory_id,),
        )
        return {j: {"final_rating": r, "details": json.loads(d)} for j, r, d in rows}

    def status(self) -> dict[str, Any]:
        """Counts for ``gba sim status``."""
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        runs = []
        for run_id, kind, planner, models in self.db.execute(
            "SELECT id, kind, planner, models FROM runs ORDER BY created_at, id"
        ).fetchall():
            counts = dict(
                self.db.execute(
                    "SELECT status, COUNT(*) FROM trajectories WHERE run_id = ? GROUP BY status",
                    (run_id,),
                ).fetchall()
            )
            usage = self.db.execute(
                "SELECT COALESCE(SUM(calls),0), COALESCE(SUM(cached_calls),0),"
                " COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0),"
                " COALESCE(SUM(cost),0) FROM usage WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            rated = self.db.execute(
                "SELECT COUNT(*) FROM ratings r JOIN trajectories t ON t.id = r.trajectory_id"
                " WHERE t.run_id = ?",
                (run_id,),
            ).fetchone()[0]
            runs.append(
                {
                    "run": run_id,
                    "kind": kind,
                    "planner": planner,
                    "models": json.loads(models),
                    "trajectories": counts,
                    "rated": rated,
                    "calls": usage[0],
                    "cached_calls": usage[1],
                    "prompt_tokens": usage[2],
                    "completion_tokens": usage[3],
                    "cost": usage[4],
                }
            )
        return {
            "path": str(self.path),
            "schema_version": self.version,
            "requests": one("SELECT COUNT(*) FROM requests"),
            "trajectories": one("SELECT COUNT(*) FROM trajectories"),
            "ratings": one("SELECT COUNT(*) FROM ratings"),
            "cached_llm_calls": one("SELECT COUNT(*) FROM llm_cache"),
            "runs": runs,
        }

    def close(self) -> None:
        self.db.close()


def _put_rating(
    db: sqlite3.Connection,
    trajectory_id: str,
    judge: str,
    final_rating: int | None,
    details: dict[str, Any],
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO ratings (trajectory_id, judge, final_rating, json)"
        " VALUES (?, ?, ?, ?)",
        (trajectory_id, judge, final_rating, json.dumps(details)),
    )
