"""The task engine: pure tasks, a result store, failures reported without losing the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casehunt.engine import DaskEngine, SerialEngine, Task, TaskStore


def square(x: int) -> dict[str, object]:
    return {"value": x * x, "omp_threads": os.environ.get("OMP_NUM_THREADS")}


def broken(x: int) -> int:
    raise ValueError(f"cannot handle {x}")


def die(_x: int) -> int:
    os._exit(3)  # a worker that dies mid-task (segfault, out of memory, node lost)


def tasks() -> list[Task]:
    return [Task(f"square/{i}", square, (i,)) for i in range(4)] + [Task("broken", broken, (7,))]


def test_store_round_trip_and_bad_keys(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    store.save("a/b/c", {"x": [1, 2]})
    assert store.has("a/b/c")
    assert store.load("a/b/c") == {"x": [1, 2]}
    assert not list(tmp_path.rglob("*.tmp"))  # written atomically through a temporary file
    store.discard("a/b/c")
    assert not store.has("a/b/c")
    with pytest.raises(KeyError, match="no result"):
        store.load("a/b/c")
    for bad in ("", "/abs", "a/../b"):
        with pytest.raises(ValueError, match="bad task key"):
            store.path(bad)


def test_serial_engine_reports_failures_and_reuses_results(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    report = SerialEngine().run(tasks(), store)
    assert sorted(report.computed) == [f"square/{i}" for i in range(4)]
    (failure,) = report.failed
    assert failure.key == "broken"
    assert failure.error == "ValueError: cannot handle 7"
    assert "def broken" in failure.traceback or "broken" in failure.traceback
    assert store.load("square/3")["value"] == 9
    again = SerialEngine().run(tasks(), store)
    assert (again.computed, sorted(again.reused)) == ([], [f"square/{i}" for i in range(4)])
    assert [f.key for f in again.failed] == ["broken"]  # failures are retried, not stored


def test_local_cluster_survives_a_failing_task_and_a_dying_worker(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    squares = {f"square/{i}" for i in range(4)}
    with DaskEngine(workers=2, allowed_failures=1) as engine:
        report = engine.run([*tasks(), Task("dies", die, (0,))], store)
        failed = {f.key: f for f in report.failed}
        assert failed["broken"].error == "ValueError: cannot handle 7"
        assert "broken" in failed["broken"].traceback
        assert failed["dies"].error.startswith("KilledWorker")
        # a task that shared the dying workers may be given up too, as KilledWorker; every
        # other one is computed and stored, and the cluster keeps working
        assert set(report.computed) | set(failed) == squares | {"broken", "dies"}
        for key in set(failed) & squares:
            assert failed[key].error.startswith("KilledWorker")
        for key in report.computed:
            assert store.has(key)
        again = engine.run(tasks(), store)
    assert set(again.computed) | set(again.reused) == squares
    assert [f.key for f in again.failed] == ["broken"]
    # single-threaded workers: the numerical libraries do not compete for the cores
    assert store.load("square/1")["omp_threads"] == "1"
