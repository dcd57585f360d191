"""A content-addressed cache of LLM calls in SQLite, so a re-run replays instead of
paying again and runs are reproducible.

The key hashes everything that determines the answer: the model's identity (its spec
and, for local files, their sha256), messages, schema, sampling parameters and seed.
Calls with temperature > 0 and no seed are not cached: they are meant to differ.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from gba_core.errors import ConfigError
from gba_core.llm.base import (
    LLM,
    Completion,
    Contrast,
    Message,
    SchemaLike,
    accepts_contrast,
    parse_output,
    schema_dict,
)
from gba_core.llm.identity import model_identity

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    completion TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def cache_key(
    spec: str,
    messages: list[Message],
    schema: SchemaLike | None,
    temperature: float,
    max_tokens: int | None,
    seed: int | None,
    contrast: Contrast | None = None,
) -> str:
    payload: dict[str, Any] = {
        "spec": spec,
        "messages": [dict(m) for m in messages],
        "schema": schema_dict(schema) if schema is not None else None,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    if contrast is not None:  # absent otherwise, so earlier keys still hit
        payload["contrast"] = contrast.key()
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class CacheStore(Protocol):
    """What CachedLLM needs of a cache: CallCache, or any store with the same two calls
    (gba sim's Ray workers read a snapshot and send new calls back)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, spec: str, completion: dict[str, Any]) -> None: ...


class CallCache:
    """The ``llm_cache`` table in any SQLite file (the runs database in ``gba sim``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA_SQL)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot use {self.path} as an LLM call cache: {exc}") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT completion FROM llm_cache WHERE key = ?", (key,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, spec: str, completion: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, spec, completion) VALUES (?, ?, ?)",
                (key, spec, json.dumps(completion)),
            )
            self._db.commit()

    def put_many(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Store (key, spec, completion) rows in one transaction."""
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO llm_cache (key, spec, completion) VALUES (?, ?, ?)",
                [(key, spec, json.dumps(completion)) for key, spec, completion in rows],
            )
            self._db.commit()

    def rows(self, specs: list[str]) -> dict[str, dict[str, Any]]:
        """Every cached completion of these backend specs, by key."""
        with self._lock:
            found = self._db.execute(
                "SELECT key, completion FROM llm_cache WHERE spec IN"
                f" ({', '.join('?' * len(specs))})",
                specs,
            ).fetchall()
        return {key: json.loads(blob) for key, blob in found}

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class CachedLLM:
    """Wraps any LLM; same protocol, answers replayed from the cache when possible."""

    def __init__(self, inner: LLM, cache: CacheStore) -> None:
        self.inner = inner
        self.cache = cache
        self.spec = inner.spec
        # Keyed by what the model is, not where it lives: a file retrained at the same
        # path is a miss (the spec column keeps the readable name).
        self.identity = model_identity(inner)

    @property
    def accepts_contrast(self) -> bool:
        return accepts_contrast(self.inner)

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        contrast: Contrast | None = None,
    ) -> Completion:
        # Passed on only when given: the inner model need not know the option.
        extra: dict[str, Any] = {"contrast": contrast} if contrast is not None else {}
        if temperature > 0 and seed is None:
            return self.inner.complete(
                messages, schema=schema, temperature=temperature, max_tokens=max_tokens, **extra
            )
        key = cache_key(self.identity, messages, schema, temperature, max_tokens, seed, contrast)
        if (hit := self.cache.get(key)) is not None:
            completion = Completion.model_validate(hit)
            completion.cached = True
            if schema is not None:
                completion.parsed = parse_output(completion.content, schema)
            return completion
        completion = self.inner.complete(
            messages,
            schema=schema,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            **extra,
        )
        self.cache.put(key, self.spec, completion.model_dump(mode="json", exclude={"parsed"}))
        return completion
