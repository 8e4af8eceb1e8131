"""Running many pure tasks: in this process, or on a dask.distributed cluster.

A task is a module-level function with its arguments and a key. It is pure (its result
depends only on its arguments) and its result is saved under its key in a
:class:`TaskStore` (one file per task, written atomically), so a campaign that is
killed and started again computes only the tasks whose results are missing, and the
tasks may run anywhere that sees the store: in this process (:class:`SerialEngine`), on a
local cluster of worker processes, or on an existing scheduler
(:class:`DaskEngine`, e.g. a batch farm through dask-jobqueue, with the store on a
shared file system). A task that raises, or whose worker dies, is reported with its
traceback; the other tasks go on.
"""

from __future__ import annotations

import abc
import contextlib
import os
import pickle
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casehunt.errors import CasehuntError


class EngineError(CasehuntError):
    """The engine cannot run at all (e.g. the scheduler cannot be reached)."""


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args)``, its result stored under ``key``.

    ``after`` names tasks of the same batch that must have ended first (successfully or
    not: a task reads its inputs from the store and decides what a missing one means).
    """

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    after: tuple[str, ...] = ()


@dataclass
class TaskFailure:
    key: str
    error: str
    traceback: str

    def to_dict(self) -> dict[str, str]:
        return {"task": self.key, "error": self.error, "traceback": self.traceback}


@dataclass
class EngineReport:
    """What a batch of tasks did: computed now, found in the store, or failed."""

    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[TaskFailure] = field(default_factory=list)
    seconds: float = 0.0
    #: run time of each computed task where it ran (its worker), by key
    task_seconds: dict[str, float] = field(default_factory=dict)

    def extend(self, other: EngineReport) -> None:
        self.task_seconds.update(other.task_seconds)
        self.computed += other.computed
        self.reused += other.reused
        self.failed += other.failed
        self.seconds += other.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": len(self.computed) + len(self.reused) + len(self.failed),
            "computed": len(self.computed),
            "reused": len(self.reused),
            "failed": [f.to_dict() for f in self.failed],
            "seconds": self.seconds,
        }


class TaskStore:
    """Task results as pickle files under a folder; a key's '/' are sub-folders."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"bad task key {key!r}")
        return self.root / f"{key}.pkl"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> Any:
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            raise KeyError(f"task {key!r} has no result in {self.root}") from None

    def discard(self, key: str) -> None:
        """Forget a result, so that the next run computes it again."""
        self.path(key).unlink(missing_ok=True)

    def save(self, key: str, value: Any) -> None:
        """Write atomically: a killed task leaves no result, never half of one."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)


def execute(
    store_root: str, key: str, fn: Callable[..., Any], args: tuple[Any, ...], *_after: Any
) -> dict[str, Any]:
    """Run one task where it lands (a worker) and store its result.

    Returns ``{"seconds": ...}``, or ``{"error": ..., "traceback": ...}`` when the task
    raised: a failure is a result, so the tasks that run after it still run. (`_after`
    are the outcomes of those earlier tasks, passed only to order the work.)
    """
    store = TaskStore(store_root)
    if store.has(key):  # another attempt finished it already
        return {"seconds": 0.0}
    t0 = time.perf_counter()
    try:
        store.save(key, fn(*args))
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return {"seconds": time.perf_counter() - t0}


def _record(report: EngineReport, key: str, outcome: dict[str, Any]) -> None:
    if "error" in outcome:
        report.failed.append(TaskFailure(key, outcome["error"], outcome["traceback"]))
    else:
        report.computed.append(key)
        report.task_seconds[key] = float(outcome["seconds"])


class Engine(abc.ABC):
    """Runs tasks whose results are missing from a store."""

    @abc.abstractmethod
    def _run(
        self, tasks: Sequence[Task], store: TaskStore, report: EngineReport, on_done: Any
    ) -> None: ...

    def run(
        self,
        tasks: Sequence[Task],
        store: TaskStore,
        on_done: Callable[[str], None] | None = None,
    ) -> EngineReport:
        """Run every task not in the store yet; failures are reported, not raised.

        Tasks are given in an order where each comes after those it names in ``after``.
        """
        t0 = time.perf_counter()
        report = EngineReport()
        todo = []
        for task in tasks:
            if store.has(task.key):
                report.reused.append(task.key)
                if on_done is not None:
                    on_done(task.key)
            else:
                todo.append(task)
        self._run(todo, store, report, on_done)
        report.seconds = time.perf_counter() - t0
        return report

    def share(self, value: Any) -> Any:
        """A handle of a large input for the tasks' arguments (the value itself here)."""
        return value

    def close(self) -> None:  # noqa: B027 (engines without resources keep the default)
        """Release workers and connections."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialEngine(Engine):
    """Every task in this process, one after the other (debugging, tiny runs)."""

    def _run(
        self, tasks: Sequence[Task], store: TaskStore, report: EngineReport, on_done: Any
    ) -> None:
        for task in tasks:
            _record(report, task.key, execute(str(store.root), task.key, task.fn, task.args))
            if on_done is not None:
                on_done(task.key)


class DaskEngine(Engine):
    """Tasks on dask.distributed: a local cluster of processes, or an existing scheduler.

    The local cluster has `workers` single-threaded worker processes (default: one per
    core), and the numerical libraries in each are limited to one thread, so the workers
    do not compete for the cores. With `scheduler` (``tcp://host:8786``) the tasks go to
    that cluster's workers, which must see the task store's folder.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        *,
        connect_timeout: float = 10.0,
        allowed_failures: int = 3,
    ) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.scheduler = scheduler
        # a task whose worker dies is retried on `allowed_failures` other workers, then
        # reported (KilledWorker) instead of taking the cluster down with it; a task that
        # merely shared a dying worker counts such a death too, hence dask's default of 3
        self._config = dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures})
        self._config.__enter__()
        self._cluster = None
        try:
            if scheduler is None:
                n = workers or os.cpu_count() or 1
                self._cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: never clashes with others
                    env=dict.fromkeys(
                        ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"
                    ),
                )
                self.client = Client(self._cluster, set_as_default=False)
            else:
                self.client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self._config.__exit__(None, None, None)
            where = scheduler or "a local cluster"
            raise EngineError(
                f"cannot reach the dask scheduler at {where}: {exc}; check the address "
                "(tcp://host:port) and that the scheduler is running"
            ) from None

    def share(self, value: Any) -> Any:
        """Send a large input to every worker once; tasks get it in place of the handle."""
        return self.client.scatter(value, broadcast=True, hash=False)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def _run(
        self, tasks: Sequence[Task], store: TaskStore, report: EngineReport, on_done: Any
    ) -> None:
        from distributed import as_completed

        futures: dict[Any, str] = {}
        by_key: dict[str, Any] = {}
        batch = uuid.uuid4().hex[:8]  # a retried task must not meet its failed namesake
        for t in tasks:
            after = [by_key[k] for k in t.after if k in by_key]
            by_key[t.key] = self.client.submit(
                execute, str(store.root), t.key, t.fn, t.args, *after,
                key=f"casehunt-{t.key}-{batch}", pure=False,
            )  # fmt: skip
            futures[by_key[t.key]] = t.key
        # as_completed may yield a future twice (lost with its worker, then recomputed)
        # and then stop before the others: every future is settled once, afterwards too
        seen: set[str] = set()
        pending = list(futures)
        for future in as_completed(futures, loop=self.client.loop):
            if futures[future] not in seen:
                self._settle(future, futures[future], store, report, on_done)
                seen.add(futures[future])
        for future in pending:
            if futures[future] not in seen:
                self._settle(future, futures[future], store, report, on_done)
                seen.add(futures[future])
        # released only now: a task's outcome must outlive the tasks that wait for it
        for future in futures:
            future.release()

    @staticmethod
    def _settle(
        future: Any, key: str, store: TaskStore, report: EngineReport, on_done: Any
    ) -> None:
        try:  # waits again if the result was lost with its worker and is recomputed
            outcome = future.result()
        except Exception as exc:  # the worker died (KilledWorker), or one it needed did
            if store.has(key):  # it finished; only the small return value was lost
                outcome = {"seconds": 0.0}
            else:
                tb = future.traceback()
                text = "".join(traceback.format_tb(tb)) if tb is not None else ""
                outcome = {"error": f"{type(exc).__name__}: {exc}", "traceback": text}
        _record(report, key, outcome)
        if on_done is not None:
            on_done(key)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
        self._config.__exit__(None, None, None)


@contextlib.contextmanager
def make_engine(
    scheduler: str | None = None, workers: int | None = None, serial: bool = False
) -> Iterator[Engine]:
    """The engine a command line asks for: serial, a local cluster, or a scheduler."""
    engine: Engine = SerialEngine() if serial else DaskEngine(scheduler, workers)
    try:
        yield engine
    finally:
        engine.close()
