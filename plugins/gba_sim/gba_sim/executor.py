"""Where the work of a run happens: a thread pool in this process, or Ray tasks.

A ``Job`` is a picklable description of the work (specs and options, never open
models or connections); ``job.build(env)`` makes the function that does one item, with
models from ``env.llm(spec, role)``: cached, metered and rate-limited. Threads share one
built function and write LLM calls to the database's cache as they happen. Ray tasks
build it once per worker process against a read-only snapshot of the cache and hand new
calls back with each result: the driver alone writes the database, so it works the
same on a laptop and on a cluster without shared disk.
"""

from __future__ import annotations

import importlib.util
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from gba_core.errors import ConfigError

from .usage import Budget, Meter, MeteredLLM, RateLimitedLLM, RateLimiter

EXECUTORS = ("thread", "ray")
_NO_RAY = "--executor ray needs Ray: pip install 'gba-sim[ray]' (or pip install ray)"


class Job(Protocol):
    def specs(self) -> list[str]:
        """The LLM specs the job calls (they select the cache rows Ray workers get)."""
        ...

    def build(self, env: WorkerEnv) -> Callable[[Any], Any]:
        """The function doing one item, its models from ``env.llm``."""
        ...


class WorkerEnv:
    """What a job's models are wrapped in where it runs: the call cache, the meter, and
    a limit on calls per minute per backend (calls answered from the cache are free)."""

    def __init__(self, cache: Any, meter: Meter, calls_per_minute: float | None = None) -> None:
        self.cache, self.meter, self.calls_per_minute = cache, meter, calls_per_minute
        self._inner: dict[str, Any] = {}

    def llm(self, spec: str, role: str) -> Any:
        from gba_core.llm.cache import CachedLLM
        from gba_core.registry import get_llm

        if spec not in self._inner:  # one backend (one loaded model) per spec and process
            inner = get_llm(spec)
            if self.calls_per_minute:
                inner = RateLimitedLLM(inner, RateLimiter(self.calls_per_minute))
            self._inner[spec] = inner
        return MeteredLLM(CachedLLM(self._inner[spec], self.cache), role, self.meter)


@dataclass
class Done:
    item: Any
    result: Any
    usage: list[dict[str, Any]]  # the LLM calls made since the last item finished


@dataclass
class ExecutorConfig:
    kind: str = "thread"
    workers: int = 1
    ray_address: str | None = None
    ray_task_cpus: float = 1.0
    calls_per_minute: float | None = None  # per backend, over all workers
    budget: Budget | None = None  # shared by every run of the command

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.kind!r}; choose from {EXECUTORS}")
        if self.kind == "ray" and importlib.util.find_spec("ray") is None:
            # Said before any work starts, not when the first job needs Ray.
            raise ConfigError(_NO_RAY)


def run_job(job: Job, items: Iterable[Any], config: ExecutorConfig, db: Any) -> Iterator[Done]:
    """Do ``job`` on every item; yields each item as it finishes, at most
    ``config.workers`` in flight. Closing the iterator early cancels what has not
    started."""
    if config.kind == "ray":
        yield from _run_ray(job, items, config, db)
    else:
        yield from _run_threads(job, items, config, db)


def _run_threads(job: Job, items: Iterable[Any], config: ExecutorConfig, db: Any) -> Iterator[Done]:
    meter = Meter()
    fn = job.build(WorkerEnv(db.call_cache(), meter, config.calls_per_minute))
    workers = max(1, config.workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future[Any], Any] = {}
        queue = iter(items)
        try:
            while True:
                while len(pending) < workers and (item := next(queue, None)) is not None:
                    pending[pool.submit(fn, item)] = item
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = pending.pop(future)
                    # Calls in flight for other items are counted with this one: the
                    # totals of the run are right, the split between items is not kept.
                    yield Done(item, future.result(), meter.take())
        finally:
            for future in pending:
                future.cancel()


# --- Ray ----------------------------------------------------------------------------

# Per Ray worker process: built job functions by token, so models load once per process.
_BUILT: dict[str, tuple[Callable[[Any], Any], SnapshotCache, Meter]] = {}


class SnapshotCache:
    """The call cache inside a Ray worker: reads a snapshot of the database's cache,
    keeps new calls until the driver collects them with the result."""

    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows
        self.new: list[tuple[str, str, dict[str, Any]]] = []

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def put(self, key: str, spec: str, completion: dict[str, Any]) -> None:
        self.rows[key] = completion
        self.new.append((key, spec, completion))

    def drain(self) -> list[tuple[str, str, dict[str, Any]]]:
        new, self.new = self.new, []
        return new


def _ray_do(
    token: str, job: Job, boxed_snapshot: list[Any], item: Any, calls_per_minute: float | None
) -> tuple[Any, Any, Any]:
    import ray

    if token not in _BUILT:
        # The snapshot arrives boxed so Ray hands over the reference, fetched once here
        # rather than deserialized for every task.
        cache = SnapshotCache(dict(ray.get(boxed_snapshot[0])))
        meter = Meter()
        _BUILT.clear()  # one job per process at a time: free the models of older runs
        _BUILT[token] = (job.build(WorkerEnv(cache, meter, calls_per_minute)), cache, meter)
    fn, cache, meter = _BUILT[token]
    # Ray runs one task at a time in a worker process, so the calls and usage since
    # the last task are this item's.
    result = fn(item)
    return result, meter.take(), cache.drain()


def _connect_ray(address: str | None) -> bool:
    """Connect to Ray (or start a local one); True when this call started it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(_NO_RAY) from None
    if ray.is_initialized():
        return False
    if address and (problem := _unreachable(address)):
        # Ray itself waits for an unreachable cluster for many minutes.
        raise ConfigError(f"cannot connect to Ray at {address}: {problem}")
    try:
        ray.init(
            address=address,
            include_dashboard=False if address is None else None,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = address or "a new local cluster"
        raise ConfigError(f"cannot connect to Ray at {where}: {exc}") from exc
    return True


def _unreachable(address: str) -> str | None:
    """Why a ``host:port`` Ray address takes no connection, or None (other forms, such as
    ``auto`` and ``ray://``, are left to Ray)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in host:
        return None
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


@contextmanager
def session(config: ExecutorConfig) -> Iterator[None]:
    """Keep one Ray connection (or local Ray) for several jobs, as ``gba sim eval``
    does for its runs and ratings; a no-op for threads."""
    started = config.kind == "ray" and _connect_ray(config.ray_address)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


def _run_ray(job: Job, items: Iterable[Any], config: ExecutorConfig, db: Any) -> Iterator[Done]:
    started = _connect_ray(config.ray_address)
    import ray

    try:
        remote = ray.remote(num_cpus=config.ray_task_cpus, max_retries=2)(_ray_do)
        cache = db.call_cache()
        snapshot = ray.put(cache.rows(job.specs()))
        token = uuid.uuid4().hex
        job_ref = ray.put(job)
        pending: dict[Any, Any] = {}
        queue = iter(items)
        workers = max(1, config.workers)
        # Each worker process limits its own calls: no more processes than tasks in
        # flight, so equal shares keep the total within the limit.
        share = config.calls_per_minute / workers if config.calls_per_minute else None
        try:
            while True:
                while len(pending) < workers and (item := next(queue, None)) is not None:
                    pending[remote.remote(token, job_ref, [snapshot], item, share)] = item
                if not pending:
                    return
                finished, _ = ray.wait(list(pending), num_returns=1)
                for ref in finished:
                    item = pending.pop(ref)
                    try:
                        result, usage, new_calls = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        # The worker's own error (a ConfigError reads as one line in
                        # the CLI), not Ray's wrapper around it.
                        if isinstance(exc.cause, Exception):
                            raise exc.cause from None
                        raise
                    # Calls before the result: a crash in between only costs a replay.
                    cache.put_many(new_calls)
                    yield Done(item, result, usage)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()
