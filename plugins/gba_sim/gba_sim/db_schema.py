"""The runs database's schema, as numbered migrations: ``RunsDB`` applies those a database
lacks when it opens it (``PRAGMA user_version`` records how many ran)."""

from __future__ import annotations

from gba_core.llm.cache import SCHEMA_SQL as LLM_CACHE_SQL

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        topic TEXT,
        category TEXT,
        split TEXT,
        explanation TEXT,
        source TEXT,
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,                 -- trajectories, eval, import
        planner TEXT NOT NULL,
        models TEXT NOT NULL,               -- JSON: role -> LLM spec
        seed INTEGER,
        options TEXT NOT NULL DEFAULT '{}', -- JSON
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE trajectories (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        request_id TEXT NOT NULL REFERENCES requests(id),
        status TEXT NOT NULL,               -- completed, max_steps, error, failed
        error TEXT,
        seed INTEGER,
        json TEXT NOT NULL,                 -- the whole Trajectory
        finished_at TEXT NOT NULL DEFAULT (datetime('now')),
        UNIQUE (run_id, request_id)
    );
    CREATE TABLE steps (
        trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        tool TEXT,
        task TEXT,
        observation TEXT NOT NULL,
        invalid_plan INTEGER NOT NULL DEFAULT 0,
        tool_error INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (trajectory_id, idx)
    );
    CREATE TABLE ratings (
        trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
        judge TEXT NOT NULL,
        final_rating INTEGER,
        json TEXT NOT NULL,                 -- per-step ratings and explanations
        created_at TEXT NOT NULL DEFAULT (datetime('now')),
        PRIMARY KEY (trajectory_id, judge)
    );
    CREATE TABLE usage (
        run_id TEXT NOT NULL,
        role TEXT NOT NULL,
        spec TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        cached_calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, role, spec)
    );
    CREATE INDEX trajectories_run ON trajectories (run_id, status);
    """
    + LLM_CACHE_SQL
    + ";",
    # 2: every LLM call with its tokens and cost, and the trajectory it was made for
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        trajectory_id TEXT,                 -- made for (a judge's: the rated trajectory)
        role TEXT NOT NULL,                 -- planner, simulator, judge
        spec TEXT NOT NULL,
        cached INTEGER NOT NULL,            -- replayed from llm_cache: no tokens, no cost
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        seconds REAL NOT NULL,
        cost REAL NOT NULL,                 -- USD, from the prices given
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE INDEX calls_run ON calls (run_id, trajectory_id);
    """,
]
