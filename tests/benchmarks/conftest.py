"""Load the benchmark scripts (``benchmarks/*.py``, not a package) as modules for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(stem: str) -> ModuleType:
    """``benchmarks/<stem>.py`` as the module ``casehunt_bench_<stem>``.

    The benchmarks folder goes on sys.path (the scripts import ``protocol`` and ``suite``),
    and the module is registered so that worker processes can unpickle its functions.
    """
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    name = f"casehunt_bench_{stem}"
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{stem}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
